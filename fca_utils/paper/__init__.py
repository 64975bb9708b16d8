"""The paper's experiments, as the notebooks call them.

:mod:`.numbers` (the paper's reported numbers), :mod:`.tables` (them as tables), :mod:`.report` (notebook parameters,
saved tables and figures), :mod:`.experiments` (Tables 1 and 2), :mod:`.ablation`
(Table 7, Figure 9), :mod:`.failure_cases` (Figures 6 and 7), :mod:`.timing` (Table 5)
and :mod:`.demos` (Figures 3 and 4, the explorer), :mod:`.by_hand` (Figure 2 worked by hand: pictures, pixel explorer); the experiment modules also build their notebooks'
takeaways from the results, with the wording helpers of :mod:`.prose`. This is the only layer that knows
the notebooks.
"""
