"""SGP4/SDP4 on the whole shipped CelesTrak catalogue against the PyPI ``sgp4`` package (Vallado's C++).

Every object of ``data/space_debris/tle/*.tle`` over 7 days at 10-minute steps from the latest epoch of
its file, both with WGS72 and the improved operation mode: positions to ≤ 1 mm, velocities to ≤ 1e-6 km/s,
identical error codes, NaN exactly where the reference gives NaN.
"""

from __future__ import annotations

import numpy as np
import pytest

from s2p.debris import read_tle, sgp4
from s2p.time import jd_utc
from tests.support import DATA

POSITION_TOL_KM = 1e-6  # 1 mm
VELOCITY_TOL_KMS = 1e-6
TLE_FILES = sorted((DATA / "space_debris" / "tle").glob("*.tle"))


def _reference(tles, times):
    from sgp4.api import WGS72, Satrec, SatrecArray

    sats = SatrecArray([Satrec.twoline2rv(a, b, WGS72) for a, b in zip(tles.line1, tles.line2, strict=True)])
    jd, fr = jd_utc(times)
    return sats.sgp4(jd, fr)


@pytest.mark.slow
@pytest.mark.parametrize("path", TLE_FILES, ids=[p.stem for p in TLE_FILES])
def test_catalogue_matches_python_sgp4(path):
    tles = read_tle(path)
    assert len(tles) > 0
    times = tles.epoch.max() + np.arange(0, 7 * 1440, 10).astype("timedelta64[m]")
    r, v, err = sgp4(tles, times)
    ref_err, ref_r, ref_v = _reference(tles, times)

    np.testing.assert_array_equal(err, ref_err)
    np.testing.assert_array_equal(np.isnan(r), np.isnan(ref_r))
    ok = ~np.isnan(ref_r)
    dr = np.abs(r[ok] - ref_r[ok]).max()
    dv = np.abs(v[ok] - ref_v[ok]).max()
    assert dr <= POSITION_TOL_KM, f"max position difference {dr * 1e6:.3f} mm"
    assert dv <= VELOCITY_TOL_KMS, f"max velocity difference {dv:.3e} km/s"


def test_opsmode_afspc_matches_python_sgp4():
    from sgp4.api import WGS72, Satrec

    tles = read_tle(DATA / "space_debris" / "tle" / "celestrak_geo_2026-05-30.tle")[:40]
    minutes = np.arange(0.0, 3 * 1440.0, 90.0)
    from s2p.debris import sgp4_tsince

    r, v, err = sgp4_tsince(tles, minutes, opsmode="a")
    for k in range(len(tles)):
        sat = Satrec()
        sat.sgp4init(
            WGS72,
            "a",
            int(tles.norad_id[k]),
            float((jd_utc(tles.epoch[k])[0] + jd_utc(tles.epoch[k])[1]) - 2433281.5),
            tles.bstar[k],
            0.0,
            0.0,
            tles.eccentricity[k],
            np.radians(tles.arg_perigee_deg[k]),
            np.radians(tles.inclination_deg[k]),
            np.radians(tles.mean_anomaly_deg[k]),
            tles.mean_motion_rev_per_day[k] / (1440.0 / (2 * np.pi)),
            np.radians(tles.raan_deg[k]),
        )
        for j, m in enumerate(minutes):
            e, rr, vv = sat.sgp4_tsince(m)
            assert e == err[k, j]
            np.testing.assert_allclose(r[k, j], rr, rtol=0, atol=POSITION_TOL_KM)
            np.testing.assert_allclose(v[k, j], vv, rtol=0, atol=VELOCITY_TOL_KMS)
