"""The technical appendix shows evidence in words, not as Python reprs."""

from her2kit.report.html import appendix_rows, flatten_evidence


def test_a_list_of_records_becomes_one_readable_row_each():
    ev = {"near_cutoff": [
        {"percent": "complete_intense", "value_pct": 9.2, "cut_pct": 10.0, "cut_for": "3+"},
        {"percent": "complete_any", "value_pct": 11.0, "cut_pct": 10.0, "cut_for": "2+"}]}
    rows = appendix_rows(ev)
    assert rows == [
        ("Near cutoff: 1", "Percent: complete_intense; Value (%): 9.2; Cut (%): 10; "
                           "Cut for: 3+"),
        ("Near cutoff: 2", "Percent: complete_any; Value (%): 11; Cut (%): 10; "
                           "Cut for: 2+"),
    ]
    assert not any("{" in text for _, text in rows)


def test_plain_lists_and_long_lists_keep_their_forms():
    assert flatten_evidence({"a": [1, 2]}) == [("a", "[1, 2]")]
    assert flatten_evidence({"a": list(range(13))}) == [("a", "13 values")]
    assert flatten_evidence({"a": []}) == [("a", "[]")]
    # 12 records are still rows; 13 are summarised
    assert len(flatten_evidence({"a": [{"x": 1}] * 12})) == 12
    assert flatten_evidence({"a": [{"x": 1}] * 13}) == [("a", "13 values")]
