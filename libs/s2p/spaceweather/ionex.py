"""IONEX 1.0 global ionosphere maps: reader, TEC at arbitrary points, slant TEC -> group delay.

Format: Schaer, Gurtner, Feltens (1998), "IONEX: The IONosphere Map EXchange Format Version 1"
(https://files.igs.org/pub/data/format/ionex1.pdf). Header labels sit in columns 61-80; each map is
a block of latitude rows, each row a ``LAT/LON1/LON2/DLON/H`` record followed by the values
(``16I5`` per line) in units of ``10**EXPONENT`` TECU; 9999 means "no value".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from s2p.errors import ParseError
from s2p.spaceweather._parse import Column, attrs, parse_columns
from s2p.spaceweather._source import Lines, read_bytes

#: GPS L1 carrier frequency [Hz]
F_L1_HZ = 1575.42e6
#: 1 TECU [electrons m-2]
TECU = 1e16
#: first-order ionospheric constant [m3 s-2]: group delay = K * TEC / f**2
K_IONO = 40.3

_VALUE_COLUMNS = [Column(f"v{k}", 5 * k, 5 * k + 5, required=(k == 0)) for k in range(16)]
_MAP_KINDS = {"START OF TEC MAP": "tec", "START OF RMS MAP": "rms", "START OF HEIGHT MAP": "height"}


def _floats(text: str, widths: list[tuple[int, int]], lines: Lines, i: int, what: str) -> list[float]:
    try:
        return [float(text[a:b]) for a, b in widths]
    except ValueError:
        raise lines.error(i, f"bad number in {what}") from None


def _epoch(text: str, lines: Lines, i: int) -> np.datetime64:
    vals = _floats(text, [(6 * k, 6 * k + 6) for k in range(6)], lines, i, "epoch (6I6)")
    y, mo, d, h, mi, s = (int(v) for v in vals)
    try:
        return np.datetime64(f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}", "ns")
    except ValueError:
        raise lines.error(i, "impossible epoch") from None


def read_ionex(source: Any) -> xr.Dataset:
    """Read an IONEX 1.0 file (plain or gzip) of two-dimensional TEC maps.

    Parameters
    ----------
    source : path, str, bytes or file
        The ``.YYi`` file, optionally gzip-compressed.

    Returns
    -------
    xarray.Dataset
        ``tec`` [TECU] and, when present, ``rms`` [TECU] on ``(time, lat, lon)``, scaled by the
        file's ``EXPONENT`` (header default, overridden inside a map when the map says so); the
        grid in file order (latitude usually north to south, longitude -180..180 with both ends).
        Satellite DCBs of the auxiliary block as ``dcb_bias``/``dcb_rms`` [ns] on ``prn``. Header
        records (``MAPPING FUNCTION``, ``BASE RADIUS``, ``INTERVAL``, ``HGT1 / HGT2 / DHGT``, the
        comments and descriptions...) become attributes.

    Raises
    ------
    s2p.ParseError
        Wrong first record, missing grid definition, 3-D maps, a latitude row that does not match
        the grid, too few values, bad numbers, unterminated maps; with the line.
    """
    data, name = read_bytes(source)
    lines = Lines(data, name)
    texts = data.decode("latin-1").split("\n")
    texts = [t[:-1] if t.endswith("\r") else t for t in texts]
    if not texts or texts[0][60:80].strip() != "IONEX VERSION / TYPE":
        raise ParseError(
            "wrong header: first record must be 'IONEX VERSION / TYPE'",
            source=name,
            line=1,
            text=texts[0] if texts else "",
        )
    if texts[0][20:21] != "I":
        raise lines.error(0, "file type must be 'I' (ionosphere maps)")
    hdr: dict[str, Any] = {"ionex_version": texts[0][:8].strip(), "satellite_system": texts[0][40:60].strip()}
    comments: list[str] = []
    descriptions: list[str] = []
    dcb: list[tuple[str, float, float]] = []
    grid: dict[str, list[float]] = {}
    exponent = -1
    n_maps = None
    i = 1
    in_aux = False
    while True:
        if i >= len(texts):
            raise lines.error(len(lines) - 1, "file ends inside the header (no 'END OF HEADER')")
        t = texts[i]
        label = t[60:80].strip()
        if label == "END OF HEADER":
            break
        if in_aux:
            if label == "END OF AUX DATA":
                in_aux = False
            elif label == "PRN / BIAS / RMS":
                b, r = _floats(t, [(6, 16), (16, 26)], lines, i, "PRN / BIAS / RMS")
                dcb.append((t[3:6].strip() or t[:6].strip(), b, r))
            i += 1
            continue
        if label == "START OF AUX DATA":
            in_aux = True
            hdr["aux_data"] = t[:60].strip()
        elif label == "COMMENT":
            comments.append(t[:60].rstrip())
        elif label == "DESCRIPTION":
            descriptions.append(t[:60].rstrip())
        elif label == "PGM / RUN BY / DATE":
            hdr["program"], hdr["run_by"], hdr["run_date"] = (
                t[:20].strip(),
                t[20:40].strip(),
                t[40:60].strip(),
            )
        elif label in ("EPOCH OF FIRST MAP", "EPOCH OF LAST MAP"):
            hdr[label.lower().replace(" ", "_")] = str(_epoch(t, lines, i))
        elif label == "INTERVAL":
            hdr["interval_s"] = int(_floats(t, [(0, 6)], lines, i, "INTERVAL")[0])
        elif label == "# OF MAPS IN FILE":
            n_maps = int(_floats(t, [(0, 6)], lines, i, "# OF MAPS IN FILE")[0])
            hdr["number_of_maps"] = n_maps
        elif label == "MAPPING FUNCTION":
            hdr["mapping_function"] = t[:60].strip()
        elif label == "ELEVATION CUTOFF":
            hdr["elevation_cutoff_deg"] = _floats(t, [(0, 8)], lines, i, "ELEVATION CUTOFF")[0]
        elif label == "OBSERVABLES USED":
            hdr["observables_used"] = t[:60].strip()
        elif label == "# OF STATIONS":
            hdr["number_of_stations"] = int(_floats(t, [(0, 6)], lines, i, "# OF STATIONS")[0])
        elif label == "# OF SATELLITES":
            hdr["number_of_satellites"] = int(_floats(t, [(0, 6)], lines, i, "# OF SATELLITES")[0])
        elif label == "BASE RADIUS":
            hdr["base_radius_km"] = _floats(t, [(0, 8)], lines, i, "BASE RADIUS")[0]
        elif label == "MAP DIMENSION":
            dim = int(_floats(t, [(0, 6)], lines, i, "MAP DIMENSION")[0])
            if dim != 2:
                raise lines.error(i, f"MAP DIMENSION {dim}: only 2-D (single-layer) maps are supported")
            hdr["map_dimension"] = dim
        elif label in ("HGT1 / HGT2 / DHGT", "LAT1 / LAT2 / DLAT", "LON1 / LON2 / DLON"):
            grid[label[:3]] = _floats(t, [(2, 8), (8, 14), (14, 20)], lines, i, label)
        elif label == "EXPONENT":
            exponent = int(_floats(t, [(0, 6)], lines, i, "EXPONENT")[0])
        elif label == "" and t.strip():
            raise lines.error(i, "header record without a label in columns 61-80")
        i += 1
    for key in ("HGT", "LAT", "LON"):
        if key not in grid:
            raise lines.error(i, f"header lacks the '{key}1 / {key}2 / D{key}' record")
    lat1, lat2, dlat = grid["LAT"]
    lon1, lon2, dlon = grid["LON"]
    if dlat == 0 or dlon == 0:
        raise lines.error(i, "grid spacing DLAT/DLON is zero")
    nlat = int(round((lat2 - lat1) / dlat)) + 1
    nlon = int(round((lon2 - lon1) / dlon)) + 1
    lats = lat1 + dlat * np.arange(nlat)
    lons = lon1 + dlon * np.arange(nlon)
    per_row = (nlon + 15) // 16
    hdr["height_km"] = grid["HGT"][0]
    hdr["exponent"] = exponent

    maps: dict[str, list[tuple[np.datetime64, np.ndarray, np.ndarray]]] = {"tec": [], "rms": [], "height": []}
    value_rows: list[int] = []
    i += 1
    while i < len(texts):
        t = texts[i]
        label = t[60:80].strip()
        if label in _MAP_KINDS:
            kind = _MAP_KINDS[label]
            start_line = i
            i += 1
            if i >= len(texts) or texts[i][60:80].strip() != "EPOCH OF CURRENT MAP":
                raise lines.error(
                    min(i, len(lines) - 1), "expected 'EPOCH OF CURRENT MAP' after the map start"
                )
            epoch = _epoch(texts[i], lines, i)
            i += 1
            map_exp = exponent
            first_rows = np.empty(nlat, dtype=np.int64)
            scale = np.empty(nlat)
            for r in range(nlat):
                if i < len(texts) and texts[i][60:80].strip() == "EXPONENT":
                    map_exp = int(_floats(texts[i], [(0, 6)], lines, i, "EXPONENT")[0])
                    i += 1
                if i >= len(texts) or texts[i][60:80].strip() != "LAT/LON1/LON2/DLON/H":
                    raise lines.error(
                        min(i, len(lines) - 1),
                        f"expected latitude row {r + 1} of {nlat} ('LAT/LON1/LON2/DLON/H')",
                    )
                la, l1, l2, dl, _h = _floats(
                    texts[i],
                    [(2, 8), (8, 14), (14, 20), (20, 26), (26, 32)],
                    lines,
                    i,
                    "LAT/LON1/LON2/DLON/H",
                )
                if (
                    abs(la - lats[r]) > 1e-6
                    or abs(l1 - lon1) > 1e-6
                    or abs(l2 - lon2) > 1e-6
                    or abs(dl - dlon) > 1e-6
                ):
                    raise lines.error(
                        i,
                        f"latitude row does not match the header grid (expected lat {lats[r]:g}, lon {lon1:g}..{lon2:g} by {dlon:g})",
                    )
                first_rows[r] = len(value_rows)
                value_rows.extend(range(i + 1, i + 1 + per_row))
                scale[r] = map_exp
                i += 1 + per_row
            if i >= len(texts) or texts[i][60:80].strip() != label.replace("START", "END"):
                raise lines.error(
                    min(i, len(lines) - 1),
                    f"expected '{label.replace('START', 'END')}' (map started on line {start_line + 1})",
                )
            maps[kind].append((epoch, first_rows, scale))
            i += 1
        elif label == "END OF FILE":
            break
        elif t.strip() == "":
            i += 1
        else:
            raise lines.error(i, f"unexpected record {label!r} between maps")
    if value_rows and value_rows[-1] >= len(lines):
        raise lines.error(len(lines) - 1, "file ends inside a map (truncated)")
    if not maps["tec"]:
        raise lines.error(len(lines) - 1, "no TEC map in the file")
    vals = parse_columns(lines, np.array(value_rows, dtype=np.int64), _VALUE_COLUMNS, min_length=5)
    flat = np.stack([vals[c.name] for c in _VALUE_COLUMNS], axis=1)  # (n_value_lines, 16)
    rows3 = flat.reshape(-1, per_row * 16)  # one latitude row per line of this array
    counts = np.isfinite(rows3[:, nlon:]).sum(axis=1)
    present = np.isfinite(rows3[:, :nlon]).all(axis=1)
    bad = np.flatnonzero((counts > 0) | ~present)
    if bad.size:
        raise lines.error(value_rows[bad[0] * per_row], f"latitude row must hold exactly {nlon} values")
    grid_vals = rows3[:, :nlon]
    grid_vals = np.where(grid_vals == 9999, np.nan, grid_vals)

    def stack(kind: str) -> tuple[np.ndarray, np.ndarray]:
        epochs = np.array([m[0] for m in maps[kind]], dtype="datetime64[ns]")
        # divide by 10**-e rather than multiply by 10**e: 33 / 10 is the double nearest 3.3,
        # 33 * 0.1 is not (0.1 has no exact binary form)
        arr = np.stack(
            [
                np.where(
                    m[2][:, None] < 0,
                    grid_vals[m[1] // per_row] / 10.0 ** -m[2][:, None],
                    grid_vals[m[1] // per_row] * 10.0 ** m[2][:, None],
                )
                for m in maps[kind]
            ]
        )
        return epochs, arr

    times, tec = stack("tec")
    if np.any(np.diff(times) <= np.timedelta64(0, "ns")):
        raise ParseError("TEC map epochs not increasing", source=name)
    if n_maps is not None and len(times) != n_maps:
        raise lines.error(
            len(lines) - 1, f"file holds {len(times)} TEC maps, its header says {n_maps} (truncated?)"
        )
    tecu = "TECU"
    ds = xr.Dataset(
        {
            "tec": (
                ("time", "lat", "lon"),
                tec,
                attrs(tecu, "vertical total electron content", comment="1 TECU = 1e16 el m-2"),
            )
        },
        coords={
            "time": ("time", times, {"long_name": "map epoch (UTC)"}),
            "lat": ("lat", lats, {"units": "degrees_north", "long_name": "geographic latitude"}),
            "lon": ("lon", lons, {"units": "degrees_east", "long_name": "geographic longitude"}),
        },
    )
    for kind, long_name, units in (
        ("rms", "RMS error of the vertical TEC", tecu),
        ("height", "height of the single layer", "km"),
    ):
        if maps[kind]:
            t_k, arr = stack(kind)
            if not np.array_equal(t_k, times):
                raise ParseError(f"{kind.upper()} map epochs differ from the TEC map epochs", source=name)
            ds[kind] = (("time", "lat", "lon"), arr, attrs(units, long_name))
    if dcb:
        ds = ds.assign_coords(prn=("prn", [d[0] for d in dcb]))
        ds["dcb_bias"] = (
            "prn",
            np.array([d[1] for d in dcb]),
            attrs("ns", "satellite differential code bias"),
        )
        ds["dcb_rms"] = ("prn", np.array([d[2] for d in dcb]), attrs("ns", "RMS of the satellite DCB"))
    ds.attrs = {
        "title": (comments[0] if comments else "IONEX ionosphere maps"),
        "source": f"IONEX {hdr['ionex_version']} file {name}; {hdr.get('run_by', '')}".strip(),
        "license": "IGS products: open (IGS data policy); cite the producing analysis centre",
        "references": "Schaer, Gurtner, Feltens (1998), IONEX: The IONosphere Map EXchange Format Version 1",
        "Conventions": "CF-1.8",
        **hdr,
        "comment": "\n".join(comments),
        "description": "\n".join(descriptions),
    }
    return ds


def tec_at(maps: xr.Dataset | xr.DataArray, time: Any, lat: Any, lon: Any, *, method: str = "rotated") -> Any:
    """Vertical TEC at arbitrary points by the IONEX 1.0 interpolation.

    Space: bilinear in the four surrounding grid nodes. Time (``method``): ``"rotated"`` (the
    standard's recommended formula: the two maps around ``t`` are each rotated with the Sun,
    ``E_i(lat, lon + 360 deg * (t - T_i) / 1 day)``, then interpolated linearly in time) or
    ``"linear"`` (consecutive maps, no rotation).

    Parameters
    ----------
    maps : xarray.Dataset or DataArray
        The result of :func:`read_ionex` (or its ``tec``/``rms`` variable): regular grid, equally
        spaced epochs.
    time : datetime64 array_like or DataArray
        Epochs (UTC) inside the span of the maps; outside gives NaN.
    lat, lon : array_like or DataArray
        Geographic latitude and longitude [deg]; longitude in any turn (wrapped on global grids);
        points outside the latitude band of the grid give NaN.
    method : {"rotated", "linear"}

    Returns
    -------
    ndarray or DataArray
        TEC [TECU] broadcast over the inputs; lazy for dask-backed DataArrays.
    """
    if method not in ("rotated", "linear"):
        raise ValueError(f"method must be 'rotated' or 'linear', got {method!r}")
    # numba is imported here, not at module import: the readers never pay its start-up
    from s2p.spaceweather import _kernels

    da = maps["tec"] if isinstance(maps, xr.Dataset) else maps
    epochs = da["time"].values.astype("datetime64[ns]")
    steps = np.diff(epochs)
    if steps.size and not np.all(steps == steps[0]):
        raise ValueError("tec_at needs equally spaced map epochs")
    dt = float(steps[0] / np.timedelta64(1, "s")) if steps.size else 1.0
    la, lo = da["lat"].values, da["lon"].values
    grid = np.ascontiguousarray(da.transpose("time", "lat", "lon").values, dtype=np.float64)
    dlat = float(la[1] - la[0]) if la.size > 1 else 1.0
    dlon = float(lo[1] - lo[0]) if lo.size > 1 else 1.0
    wrap = abs(abs(dlon) * (lo.size - 1) - 360.0) < 1e-9
    t0 = epochs[0]
    rotate = method == "rotated"

    def kernel(t: np.ndarray, b: np.ndarray, lam: np.ndarray) -> np.ndarray:
        t, b, lam = np.broadcast_arrays(t, b, lam)
        secs = (np.asarray(t).astype("datetime64[ns]") - t0) / np.timedelta64(1, "s")
        out = _kernels.tec_rotated(
            np.ascontiguousarray(secs, dtype=np.float64).ravel(),
            np.ascontiguousarray(b, dtype=np.float64).ravel(),
            np.ascontiguousarray(lam, dtype=np.float64).ravel(),
            grid,
            0.0,
            dt,
            float(la[0]),
            dlat,
            float(lo[0]),
            dlon,
            rotate,
            wrap,
        )
        return out.reshape(t.shape)

    if any(isinstance(x, xr.DataArray) for x in (time, lat, lon)):
        out = xr.apply_ufunc(kernel, time, lat, lon, dask="parallelized", output_dtypes=[float])
        out.attrs = {"units": "TECU", "long_name": f"vertical TEC ({method} IONEX interpolation)"}
        return out
    res = kernel(np.asarray(time), np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    return res[()] if res.ndim == 0 else res


def slant_factor(elevation_deg: Any, shell_height_km: float = 450.0, earth_radius_km: float = 6371.0) -> Any:
    """Single-layer mapping function: slant TEC = factor * vertical TEC.

    Parameters
    ----------
    elevation_deg : array_like or DataArray
        Elevation of the line of sight at the receiver [deg].
    shell_height_km, earth_radius_km : float
        Height of the thin shell [km] (the IONEX ``HGT1``) and the Earth radius [km] (``BASE RADIUS``).

    Returns
    -------
    same type as ``elevation_deg``
        ``1 / cos(z')`` with ``sin z' = R / (R + H) * cos(elevation)``, dimensionless.
    """
    from s2p.spaceweather._apply import elementwise

    ratio = earth_radius_km / (earth_radius_km + shell_height_km)

    def f(e: np.ndarray) -> np.ndarray:
        s = ratio * np.cos(np.radians(np.asarray(e, dtype=float)))
        return 1.0 / np.sqrt(1.0 - s * s)

    return elementwise(f, elevation_deg, float, units="1", long_name="single-layer mapping factor")


def slant_tec_to_delay(stec: Any, frequency_hz: float = F_L1_HZ) -> Any:
    """First-order ionospheric group delay of a signal crossing ``stec``.

    Parameters
    ----------
    stec : array_like or DataArray
        Slant TEC [TECU] along the line of sight.
    frequency_hz : float
        Carrier frequency [Hz]; GPS L1 (1575.42 MHz) by default.

    Returns
    -------
    same type as ``stec``
        Group delay [m] = 40.3 * TEC[el m-2] / f**2 (about 0.162 m per TECU at L1); the carrier
        phase is advanced by the same amount.
    """
    from s2p.spaceweather._apply import elementwise

    factor = K_IONO * TECU / frequency_hz**2
    return elementwise(
        lambda a: np.asarray(a, dtype=float) * factor,
        stec,
        float,
        units="m",
        long_name="ionospheric group delay",
    )
