"""Server-rendered SVG charts: valid XML, accessible (title, desc, labelled), values as text, escaped."""

import xml.etree.ElementTree as ET

from bianmin.supervision.kpis import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))


def texts(root) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def test_bar_chart_is_labelled_and_shows_each_value():
    root = parse(charts.bar_chart(title="各县(市、区)按时办结率", labels=["赤坎区", "霞山区", "遂溪县"], values=[87.5, 100.0, None],
                                  max_value=100, target=60, target_label="2018年目标"))
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    assert title.text == "各县(市、区)按时办结率"
    assert "赤坎区 87.5%" in desc.text and "遂溪县 无数据" in desc.text and "2018年目标 60%" in desc.text
    assert ["赤坎区", "87.5%", "霞山区", "100%", "遂溪县", "无数据", "2018年目标 60%"] == texts(root)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]
    tracks = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-track"]
    # 87.5% of the track and the full track; no bar for the missing value
    assert len(bars) == 2 and float(bars[1].get("width")) == float(tracks[1].get("width"))
    assert abs(float(bars[0].get("width")) - 0.875 * float(tracks[0].get("width"))) < 0.1
    # the target line at 60% of the track
    line = root.find(f"{SVG}line")
    assert abs(float(line.get("x1")) - (float(tracks[0].get("x")) + 0.6 * float(tracks[0].get("width")))) < 0.1


def test_counts_scale_to_the_largest():
    root = parse(charts.bar_chart(title="每月办结件数", labels=["2026-09", "2026-10"], values=[50, 200], unit="件"))
    assert texts(root) == ["2026-09", "50 件", "2026-10", "200 件"]
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]
    assert abs(float(bars[0].get("width")) * 4 - float(bars[1].get("width"))) < 0.5


def test_line_chart_has_a_legend_points_and_gaps():
    root = parse(charts.line_chart(title="走势", labels=["2026-01", "2026-02", "2026-03"], max_value=100,
                                   series=[("按时办结率", [90.0, None, 100.0]), ("网上申办率", [50.0, 60.0, 70.0])]))
    assert root.find(f"{SVG}title").text == "走势"
    desc = root.find(f"{SVG}desc").text
    assert "按时办结率:2026-01 90%,2026-02 无数据,2026-03 100%" in desc
    assert "按时办结率" in texts(root) and "网上申办率" in texts(root)
    dots = list(root.iter(f"{SVG}circle"))
    assert len(dots) == 5  # a gap where the value is missing
    # the first series is split by the gap: no polyline joins 90 and 100 across February
    polylines = [p for p in root.iter(f"{SVG}polyline")]
    assert len(polylines) == 1 and "chart-s2" in polylines[0].get("class")
    # 100% sits on the top grid line, 50% half-way down
    ys = {float(c.get("cy")) for c in dots}
    grid = sorted(float(g.get("y1")) for g in root.iter(f"{SVG}line") if g.get("class") == "chart-grid")
    assert min(ys) == grid[0] and (grid[0] + grid[-1]) / 2 in ys


def test_text_is_escaped():
    root = parse(charts.bar_chart(title="<script>alert(1)</script>", labels=['A&B "部门" <x>'], values=[10.0]))
    assert root.find(f"{SVG}title").text == "<script>alert(1)</script>"
    assert texts(root)[0] == 'A&B "部门" <x>'
    assert "<script>" not in str(charts.bar_chart(title="<script>", labels=["a"], values=[1.0]))


def test_long_labels_are_shortened_but_kept_in_the_description():
    name = "湛江市人力资源和社会保障局社会保险基金管理中心第一分中心综合业务受理窗口"
    root = parse(charts.bar_chart(title="各部门", labels=[name], values=[50.0]))
    assert texts(root)[0].endswith("…") and len(texts(root)[0]) <= 30
    assert name in root.find(f"{SVG}desc").text


def test_empty_charts_say_so():
    assert "暂无数据" in charts.bar_chart(title="各部门", labels=[], values=[])
    assert "暂无数据" in charts.line_chart(title="走势", labels=[], series=[])


def test_ids_are_unique_per_chart():
    a = parse(charts.bar_chart(title="a", labels=["x"], values=[1.0]))
    b = parse(charts.bar_chart(title="b", labels=["x"], values=[1.0]))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")


def test_narrow_viewbox_scales_to_the_container():
    root = parse(charts.bar_chart(title="a", labels=["x"], values=[1.0]))
    assert root.get("viewBox").split()[2] == "400" and root.get("width") is None  # CSS sets width: 100%
