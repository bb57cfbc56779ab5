"""The SVG charts parse as XML, carry one mark per category, and match their CSV."""

import xml.etree.ElementTree as ET

from matchmaker.associations import charts

SVG = "{http://www.w3.org/2000/svg}"


def _marks(svg: str) -> list[ET.Element]:
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    return [el for el in root.iter() if el.get("class") == "mark"]


def test_bar_chart_has_one_labelled_bar_per_category_scaled_to_the_largest():
    cats = [charts.Category("31", "31 Furniture", 12, "/sectors/31"),
            charts.Category("16", "16 Wood <& cork>", 6),
            charts.Category("25", "25 Metal products", 0)]
    svg = charts.bar_chart(cats, title="Members by sector")
    marks = _marks(svg)
    assert [m.get("data-key") for m in marks] == ["31", "16", "25"]
    widths = [float(m.get("width")) for m in marks]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    root = ET.fromstring(str(svg))
    assert root.find(f"{SVG}title").text == "Members by sector"
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "16 Wood <& cork>: 6" in titles  # escaped in the markup, intact once parsed
    assert root.find(f"{SVG}a").get("href") == "/sectors/31"
    assert "style" not in str(svg) and "<script" not in str(svg)


def test_empty_bar_chart_still_parses_and_says_so():
    root = ET.fromstring(str(charts.bar_chart([], title="Nothing", empty_text="No members")))
    assert not [el for el in root.iter() if el.get("class") == "mark"]
    assert any(t.text == "No members" for t in root.iter(f"{SVG}text"))


def test_dot_map_has_one_dot_per_place_inside_the_view():
    points = [charts.Point("108028", "Lissone (MB)", 45.61, 9.24, 4),
              charts.Point("015146", "Milano (MI)", 45.46, 9.19, 1),
              charts.Point("016024", "Bergamo (BG)", 45.69, 9.67, 2)]
    backdrop = [(45.0, 8.5), (46.5, 10.5), (45.7, 9.5)]
    svg = charts.dot_map(points, title="Members", backdrop=backdrop)
    root = ET.fromstring(str(svg))
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    marks = _marks(svg)
    assert sorted(m.get("data-key") for m in marks) == ["015146", "016024", "108028"]
    radius = {m.get("data-key"): float(m.get("r")) for m in marks}
    assert radius["108028"] > radius["016024"] > radius["015146"]
    for m in marks:
        assert 0 <= float(m.get("cx")) <= width and 0 <= float(m.get("cy")) <= height
    # Milano is south-west of Bergamo: left of it and lower on the map.
    pos = {m.get("data-key"): (float(m.get("cx")), float(m.get("cy"))) for m in marks}
    assert pos["015146"][0] < pos["016024"][0] and pos["015146"][1] > pos["016024"][1]
    assert root.find(f"{SVG}path").get("class") == "backdrop"


def test_render_and_csv_share_the_rows():
    chart = charts.Chart("provinces", "By province", "bar", "Province", "Members",
                         [charts.Category("MB", "Monza (MB)", 2), charts.Category("BG", "Bergamo, BG", 1)])
    assert len(_marks(charts.render(chart))) == 2
    assert charts.to_csv(chart).splitlines() == [
        "key,Province,Members", "MB,Monza (MB),2", 'BG,"Bergamo, BG",1']
    dots = charts.Chart("map", "Map", "map", "Comune", "Members",
                        [charts.Point("108028", "Lissone", 45.61, 9.24, 3)])
    assert len(_marks(charts.render(dots))) == 1
    assert charts.to_csv(dots).splitlines()[1] == "108028,Lissone,45.61000,9.24000,3"


def test_dashboard_svgs_have_one_mark_per_table_row(client, db, make_user, login):
    from bs4 import BeautifulSoup

    from tests.associations.helpers import association, firm, members

    curator = make_user("curator")
    a = association(db, curator=curator)
    members(db, a, [firm(db, 1, ateco="31.09.10", comune_istat="108028"),
                    firm(db, 2, ateco="16.23.10", comune_istat="015146"),
                    firm(db, 3, ateco="25.62.00", comune_istat="016024")])
    db.flush()
    login(client, curator)
    soup = BeautifulSoup(client.get(f"/associations/{a.slug}").text, "html.parser")
    figures = soup.select("figure.chart-figure")
    assert [f["id"] for f in figures] == ["chart-sectors", "chart-chains", "chart-provinces",
                                          "chart-map"]
    for fig in figures:
        marks = _marks(str(fig.select_one("svg")))
        assert len(marks) == len(fig.select("details tbody tr")), fig["id"]
        assert fig.select_one("a[download]")["href"].endswith(".csv")
    svg = client.get(f"/associations/{a.slug}/charts/map.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert len(_marks(svg.text.split("\n", 1)[1])) == 3
