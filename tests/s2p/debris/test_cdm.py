"""read_cdm against the shipped CCSDS CDMs (NASA CARA, CSpOC via OSTk, Orekit) and malformed input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2p.debris.cdm import read_cdm
from s2p.errors import ParseError
from tests.support import DATA

CDM_DIR = DATA / "space_debris" / "cdm"
CARA = sorted((CDM_DIR / "nasa_cara").glob("*.cdm"))
OTHERS = [
    CDM_DIR / "ostk" / "cdm_yam2_cosmos1602_2022-12-27.kvn",
    CDM_DIR / "ostk" / "cdm_yam2_cosmos1602_2022-12-27.json",
    CDM_DIR / "orekit" / "CDMExample1.txt",
    CDM_DIR / "orekit" / "CDMExample1.xml",
    CDM_DIR / "orekit" / "ION_SCV8_vs_STARLINK_1233.txt",
]
HST = CDM_DIR / "nasa_cara" / "000020580_conj_000002017_20230613_001923_20230608_063715.cdm"


def test_all_53_cara_cdms_parse() -> None:
    assert len(CARA) == 53
    for path in CARA:
        cdm = read_cdm(path)
        assert cdm.object1.object == "OBJECT1" and cdm.object2.object == "OBJECT2"
        assert cdm.object1.covariance_rtn.shape == (6, 6)
        # the RTN relative position must reproduce the stated miss distance (CARA rounds to 1 m)
        assert np.linalg.norm(cdm.relative_position_rtn_m) == pytest.approx(cdm.miss_distance_m, abs=1.0)
        assert cdm.hbr_m is not None and cdm.hbr_m > 0
        for obj in (cdm.object1, cdm.object2):
            assert np.all(np.diag(obj.covariance_rtn) > 0)
            assert np.allclose(obj.covariance_rtn, obj.covariance_rtn.T)


def test_hst_values_and_units() -> None:
    cdm = read_cdm(HST)
    assert cdm.header["ORIGINATOR"] == "CARA"
    assert cdm.tca == np.datetime64("2023-06-13T00:19:23.766")
    assert cdm.miss_distance_m == 12303.0
    assert cdm.relative_speed_ms == 2224.0
    np.testing.assert_array_equal(cdm.relative_position_rtn_m, [-108.2, 12297.9, -350.5])
    assert cdm.collision_probability == 1.862e-05
    assert cdm.collision_probability_method == "FOSTER-1992"
    assert cdm.hbr_m == 10.0
    o1, o2 = cdm.object1, cdm.object2
    assert (o1.designator, o1.name, o2.name) == ("000020580", "HST", "DIAMANT R/B")
    assert o1.ref_frame == "EME2000"
    assert o1.position_km[0] == -5.087477994865218534e03
    assert o2.velocity_kms[2] == 2.281076266220715798e00
    # lower-triangle layout: CT_R is row T column R; CNDOT_NDOT the last diagonal element
    assert o1.covariance_rtn[1, 0] == o1.covariance_rtn[0, 1] == -2.654354388641188852e05
    assert o1.covariance_rtn[5, 5] == 4.917208662840000070e-04
    assert o1.covariance_rtn[5, 3] == -1.978458860807799924e-01


@pytest.mark.parametrize("path", OTHERS, ids=lambda p: p.name)
def test_other_producers_parse(path: Path) -> None:
    cdm = read_cdm(path)
    assert cdm.miss_distance_m > 0
    assert cdm.object1.covariance_rtn.shape[0] in (6, 8)
    assert cdm.object2.position_km.shape == (3,)


def test_kvn_xml_and_json_agree() -> None:
    txt = read_cdm(CDM_DIR / "orekit" / "CDMExample1.txt")
    xml = read_cdm(CDM_DIR / "orekit" / "CDMExample1.xml")
    assert txt.tca == xml.tca and txt.miss_distance_m == xml.miss_distance_m
    for a, b in ((txt.object1, xml.object1), (txt.object2, xml.object2)):
        np.testing.assert_array_equal(a.position_km, b.position_km)
        np.testing.assert_array_equal(a.covariance_rtn, b.covariance_rtn)
    assert xml.header["CCSDS_CDM_VERS"] == "1.0"
    js = read_cdm(CDM_DIR / "ostk" / "cdm_yam2_cosmos1602_2022-12-27.json")
    assert js.object1.designator == "48911" and js.object2.name == "COSMOS 1602"
    assert js.object1.covariance_rtn.shape == (8, 8)  # CDRG and CSRP rows, no CTHR
    assert js.collision_probability == 5.162516e-16


def test_text_and_file_objects() -> None:
    text = HST.read_text()
    assert read_cdm(text).miss_distance_m == 12303.0
    assert read_cdm(io.StringIO(text)).tca == read_cdm(HST).tca
    assert read_cdm(io.BytesIO(text.encode())).hbr_m == 10.0


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_missing_key_names_key_and_line() -> None:
    text = HST.read_text()
    lines = text.splitlines()
    bad = "\n".join(line for line in lines if not line.startswith("CT_T"))
    with pytest.raises(ParseError, match="missing key CT_T in OBJECT1") as err:
        read_cdm(bad)
    assert err.value.line == 19  # the OBJECT = OBJECT1 line that opens the section


def test_bad_number_and_unit() -> None:
    text = HST.read_text()
    with pytest.raises(ParseError, match=r"X_DOT: bad number '3\.97x'") as err:
        read_cdm(_replace(text, "3.977708250257316003e+00 [km/s]", "3.97x [km/s]"))
    assert err.value.line == 57
    with pytest.raises(ParseError, match=r"MISS_DISTANCE: unit \[km\]") as err:
        read_cdm(_replace(text, "12303 [m]", "12.303 [km]"))
    assert err.value.line == 8
    with pytest.raises(ParseError, match=r"CR_R: unit \[m\]"):
        read_cdm(_replace(text, "8.852074177874744692e+02 [m**2]", "8.852074177874744692e+02 [m]"))


def test_structure_errors() -> None:
    text = HST.read_text()
    with pytest.raises(ParseError, match="found 1"):
        read_cdm(text[: text.index("OBJECT                                      = OBJECT2")])
    with pytest.raises(ParseError, match="expected 'KEY = value"):
        read_cdm(_replace(text, "ORIGINATOR                                  = CARA", "ORIGINATOR CARA"))
    with pytest.raises(ParseError, match="bad time"):
        read_cdm(_replace(text, "2023-06-13T00:19:23.766", "2023-13-13T00:19:23.766"))
    xml_text = (CDM_DIR / "orekit" / "CDMExample1.xml").read_text()
    with pytest.raises(ParseError, match="malformed XML"):
        read_cdm(xml_text[:2000])
    with pytest.raises(ParseError, match="missing key TCA"):
        read_cdm(xml_text.replace("<TCA>2010-03-13T22:37:52.618</TCA>", ""))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_corruptions_raise_parse_error(data: st.DataObject) -> None:
    """Truncating the message or garbling one numeric value gives ParseError (never a wrong CDM)."""
    text = HST.read_text()
    lines = text.splitlines()
    numeric = [i for i, line in enumerate(lines) if "[" in line and not line.startswith("COMMENT")]
    kind = data.draw(st.sampled_from(["truncate", "garble"]))
    if kind == "truncate":
        cut = data.draw(st.integers(min_value=0, max_value=len(lines) - 2))
        corrupted = "\n".join(lines[:cut]) or "CCSDS_CDM_VERS = 1.0"
    else:
        i = data.draw(st.sampled_from(numeric))
        junk = data.draw(st.text(alphabet="abcxyz#$,;:", min_size=1, max_size=4))
        key, rest = lines[i].split("=", 1)
        lines[i] = f"{key}= {junk}{rest.strip()}"
        corrupted = "\n".join(lines)
    with pytest.raises(ParseError):
        read_cdm(corrupted)


def test_hbr_from_key_takes_precedence_and_km_comment() -> None:
    text = HST.read_text()
    with_key = _replace(text, "COMMENT HBR = 10 [m]", "HBR = 5.5 [m]")
    assert read_cdm(with_key).hbr_m == 5.5
    assert read_cdm(_replace(text, "COMMENT HBR = 10 [m]", "HARD_BODY_RADIUS = 3 [m]")).hbr_m == 3.0
    assert read_cdm(
        _replace(text, "COMMENT HBR = 10 [m]", "COMMENT HBR = 0.012 [km]")
    ).hbr_m == pytest.approx(12.0)
    with pytest.raises(ParseError, match=r"HBR: unit \[km\]"):
        read_cdm(_replace(text, "COMMENT HBR = 10 [m]", "HBR = 0.01 [km]"))
    assert read_cdm(_replace(text, "COMMENT HBR = 10 [m]", "COMMENT nothing")).hbr_m is None


def test_repr_is_one_readable_line(data_dir):
    from s2p.debris import read_cdm

    cdm = read_cdm(data_dir / "space_debris/cdm/orekit/ION_SCV8_vs_STARLINK_1233.txt")
    text = repr(cdm)
    assert "\n" not in text and len(text) < 400
    assert "55051" in text and "STARLINK-1233" in text and "2023-07-05T20:31:15.893" in text
    assert "miss 55 m" in text and "4.451e-03" in text
    assert "45214" in repr(cdm.object2) and "\n" not in repr(cdm.object2)
