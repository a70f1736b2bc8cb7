"""The framework sidecar (dwi/derive/framework.yaml) against the sources it cites: every ILOSTAT id and SDG code
against ILOSTAT's 2024 dictionaries, every bureau row against the bureau's workbook (read with openpyxl)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from dwi.derive.profile import TIERS, framework, framework_frame, indicators

ROOT = Path(__file__).resolve().parents[3]
# copies kept in the repository, byte for byte the files of ../shared/data (provenance in their READMEs)
DICTIONARIES = ROOT / "dwi" / "reference" / "ilostat"
BUREAU = ROOT / "raw" / "kazstat" / "decent_work_indicators_2001_2020.xlsx"
ELEMENTS = ["EMPL", "EARN", "TIME", "FAML", "ABOL", "STAB", "EQUA", "SAFE", "SECU", "DIAL", "CONT"]
CYRILLIC = str.maketrans("МАСЛ", "MACЛ")  # the bureau mixes Cyrillic and Latin tier letters


def _dictionary(name: str) -> dict[str, str]:
    with (DICTIONARIES / f"{name}_en.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    return {r[0].strip(): r[1].strip() for r in rows[1:] if r}


def _norm(text) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def test_ten_elements_and_the_context_with_unique_ids():
    doc = framework()
    assert [e["id"] for e in doc["elements"]] == ELEMENTS
    ids = [i["id"] for i in indicators()]
    assert len(ids) == len(set(ids))
    assert all(i["tier"] in TIERS and i["tier"] != "L" for i in indicators())
    assert all(i["id"].startswith(i["element_id"] + "_") for i in indicators())
    # context indicators are C, and only they are
    assert {i["tier"] for i in indicators() if i["element_id"] == "CONT"} == {"C"}
    assert "C" not in {i["tier"] for i in indicators() if i["element_id"] != "CONT"}


def test_every_indicator_has_its_fields_and_a_tier_is_confirmed_only_by_a_readable_source():
    for i in indicators():
        assert i["en"] and i["ru"] and i["definition"] and i["unit"], i["id"]
        assert isinstance(i["confirmed"], bool), i["id"]
        assert i["tier_source"] in framework()["documents"], i["id"]
        if i["confirmed"]:
            assert i["tier_source"] in ("ilo2008", "bureau"), i["id"]
        if i["tier_source"] == "ilo2013":
            assert i["confirmed"] is False, i["id"]  # the 2013 manual's text was not readable here
        for s in i.get("series") or []:
            assert set(s) <= {"code", "classif1", "sex", "proxy"}, i["id"]


def test_every_ilostat_id_and_classification_is_in_the_dictionaries():
    known, classif1 = _dictionary("indicator"), _dictionary("classif1")
    ids = [(i["id"], x) for i in indicators() for x in i.get("ilostat") or []]
    assert len(ids) > 40
    assert [pair for pair in ids if pair[1] not in known] == []
    # series codes that look like ILOSTAT ids are ILOSTAT ids, and are listed in `ilostat`
    for i in indicators():
        for s in i.get("series") or []:
            if re.fullmatch(r"[A-Z0-9]{3}_[A-Z0-9]{4}_.*_(RT|NB)", s["code"]):
                assert s["code"] in known and s["code"] in i["ilostat"], (i["id"], s["code"])
            assert all(c in classif1 for c in s.get("classif1") or []), (i["id"], s)
        share = (i.get("derive") or {}).get("share")
        if share:
            assert share["code"] in known and share["code"] in i["ilostat"]
            assert all(c in classif1 for c in share["numerator"] + share["denominator"]), i["id"]


def test_every_sdg_code_is_an_ilostat_sdg_label_of_the_indicators_ids():
    known = _dictionary("indicator")
    sdg_of = {k: m.group(1) for k, v in known.items() if (m := re.match(r"SDG indicator (\d+\.\d+\.\d+) ", v))}
    with_sdg = [i for i in indicators() if i.get("sdg")]
    assert {i["sdg"] for i in with_sdg} >= {"8.2.1", "8.3.1", "8.5.1", "8.5.2", "8.6.1", "8.7.1", "8.8.1", "8.8.2"}
    for i in with_sdg:
        assert i["sdg"] in {sdg_of.get(x) for x in i["ilostat"]}, i["id"]
    # and no indicator misses the SDG code its own ILOSTAT ids carry
    for i in indicators():
        codes = {sdg_of[x] for x in i.get("ilostat") or [] if x in sdg_of}
        assert codes <= {i.get("sdg")}, i["id"]


def test_every_bureau_row_is_the_bureaus_title_and_tier():
    import openpyxl

    book = openpyxl.load_workbook(BUREAU, read_only=True)
    titles = {n: row[0] for n, row in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1)}
    book.close()
    rows = [(i["id"], i["bureau"]) for i in indicators() if i.get("bureau")]
    assert len(rows) >= 20
    for ident, b in rows:
        assert _norm(titles[b["row"]]) == _norm(b["label"]), ident
        printed = re.match(r"^\s*([MАACСЛМ])\s*[-–]", str(titles[b["row"]]))
        assert (printed.group(1).translate(CYRILLIC) if printed else "") == b["tier"], ident
    # each element the bureau names carries the bureau's Russian name
    for e in framework()["elements"]:
        if e.get("ru_source") != "translation":
            assert any(_norm(t) == e["ru"] for t in titles.values()), e["id"]


def test_the_legal_framework_indicators_are_rows_of_tier_l():
    frame = framework_frame()
    legal = frame.filter(frame["tier"] == "L")
    assert legal.height == 21  # the 21 legal topics of the ILO manual
    assert legal["conventions"].null_count() == 0
    assert frame["position"].to_list() == list(range(1, frame.height + 1))
