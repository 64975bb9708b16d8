"""The site builder's pure parts: navigation titles, papermill records, the notebook copies it renders."""
import nbformat

from fca_utils.cli import site


def testcited_sections_in_order_of_first_mention():
    text = ("Eq. (1) — features (Sec. 3.1 and 3.4), a statistic (Sec. 3.2–3.3); Section 5; "
            "Appendices A–B and Appendix E; again Sec. 3.1.")
    assert site.cited_sections(text) == ["Sec. 3.1", "Sec. 3.4", "Sec. 3.2–3.3", "Sec. 5", "App. A–B", "App. E"]
    assert site.cited_sections("no section here, only Table 2") == []
    page = site.PageInfo("05_x", "05", "Evaluation (Table 3)", site.cited_sections(text), "ok", 1.0, None, "quick")
    assert page.paper == "Sec. 3.1, 3.4, 3.2–3.3, 5; App. A–B, E"
    assert page.nav_title == "05 · Evaluation (Table 3) — Sec. 3.1, 3.4, 3.2–3.3, 5; App. A–B, E"


def _executed(path, record):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 07 — Complexity (Table 5)\n\n**Paper:** Section 5."),
        nbformat.v4.new_code_cell("mode = 'quick'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["papermill"] = record
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_page_info_reads_title_sections_and_the_papermill_record(tmp_path):
    ok = site.page_info(_executed(tmp_path / "07_timing.ipynb",
                                  {"duration": 12.5, "exception": None, "parameters": {"mode": "full"},
                                   "start_time": "2026-01-02T03:04:05+00:00"}))
    assert (ok.number, ok.heading, ok.sections, ok.status, ok.seconds, ok.mode) == (
        "07", "Complexity (Table 5)", ["Sec. 5"], "ok", 12.5, "full")
    assert ok.nav_title == "07 · Complexity (Table 5) — Sec. 5"
    failed = site.page_info(_executed(tmp_path / "08_x.ipynb", {"duration": 1.0, "exception": True, "parameters": {}}))
    assert failed.status == "FAILED" and failed.mode == "quick"  # the parameters cell's default
    assert site.page_info(_executed(tmp_path / "09_y.ipynb", {})).status == "not run by papermill"


def _widget(model_id):
    return nbformat.v4.new_output("display_data", data={
        site.WIDGET_VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0},
        "text/plain": "  0%|          | 0/3"})


def test_presentable_folds_code_and_replaces_widgets():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("run()"), nbformat.v4.new_markdown_cell("text")])
    nb.cells[0].outputs = [_widget("bar"), nbformat.v4.new_output("stream", text="done\n"), _widget("box")]
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": {
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_p"]}},
        "p": {"model_name": "FloatProgressModel", "state": {}},
        "box": {"model_name": "VBoxModel", "state": {"children": []}}}}}

    shown = site.presentable_copy(nb, "voila app.ipynb")

    code = shown.cells[0]
    assert code.metadata["tags"] == ["hide-input"]
    assert [o.output_type for o in code.outputs] == ["stream", "display_data"]  # progress bar dropped
    assert "voila app.ipynb" in code.outputs[1].data["text/markdown"]
    assert "widgets" not in shown.metadata and "widgets" in nb.metadata  # the original is untouched
