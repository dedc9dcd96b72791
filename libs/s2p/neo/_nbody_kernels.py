"""Numba kernels of the orbit determination: DE421 Chebyshev series, the force model with its
variational equations, and a Gragg-Bulirsch-Stoer integrator with quintic Hermite dense output.

No validation here: :mod:`s2p.neo.dynamics` builds the inputs (flat arrays in au, days, au^3/day^2)
and checks ranges. The state vector ``y`` has 42 components: position [au] (0-2), velocity [au/day]
(3-5) and the 6x6 state transition matrix, row-major (6-41); its rows 0-2 (indices 6-23) are the
partials of the position, rows 3-5 (24-41) those of the velocity. "Position-like" components (0-2,
6-23) have the "velocity-like" ones (3-5, 24-41) as time derivative: the dense output interpolates the
former with a quintic Hermite polynomial and takes its derivative for the latter.

Reference implementations for the tests: the two-body mode against Kepler's equation
(:mod:`s2p.neo._kernels`), the series against ``jplephem``, the n-body mode against the published
MPC and NEOCC orbits (``tests/s2p/neo/test_orbit_determination.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NSTATE = 42
# Raw DE421 series, in this order: the Sun, Mercury, Venus (barycentres), the Earth-Moon barycentre,
# the geocentric Moon, then the barycentres of Mars ... Pluto.
SERIES = (
    "sun",
    "mercury",
    "venus",
    "earthmoon",
    "moon",
    "mars",
    "jupiter",
    "saturn",
    "uranus",
    "neptune",
    "pluto",
)
# Perturbing bodies, in this order (the Earth and the Moon are made from series 3 and 4).
BODIES = (
    "sun",
    "mercury",
    "venus",
    "earth",
    "moon",
    "mars",
    "jupiter",
    "saturn",
    "uranus",
    "neptune",
    "pluto",
)
NBODIES = 11
MODE_TWO_BODY = 0  # heliocentric, the Sun alone (GM given), no ephemeris needed
MODE_NBODY = 1  # barycentric, the Sun, the planets, the Moon and Pluto from DE421, Sun's 1PN term

# Gragg-Bulirsch-Stoer: substep counts of the extrapolation table (Deuflhard's sequence 2, 4, 6, ...).
_KMAX = 8
_SEQ = np.array([2, 4, 6, 8, 10, 12, 14, 16])
_POS = np.array([0, 1, 2] + list(range(6, 24)))  # position-like components
_VEL = np.array([3, 4, 5] + list(range(24, 42)))  # their derivatives


@njit(cache=True)
def _series_eval(coef, off, nsets, ncoef, span, s_alpha, j, t, want_vel, pos, vel):
    """Position [au] (and velocity [au/day] if ``want_vel``) of raw series ``j`` at ``t`` days after
    the integration's reference epoch (``s_alpha`` = that epoch minus the ephemeris start)."""
    tt = s_alpha + t
    days = span / nsets[j]
    idx = int(math.floor(tt / days))
    if idx < 0:
        idx = 0
    elif idx >= nsets[j]:
        idx = nsets[j] - 1
    x = 2.0 * (tt - idx * days) / days - 1.0
    nc = ncoef[j]
    base = off[j] + idx * 3 * nc
    for c in range(3):
        b = base + c * nc
        t0 = 1.0
        t1 = x
        s = coef[b] + coef[b + 1] * x
        # derivative of the Chebyshev polynomials: dT_m/dx = 2 T_{m-1} + 2 x dT_{m-1}/dx - dT_{m-2}/dx
        d0 = 0.0
        d1 = 1.0
        ds = coef[b + 1]
        for m in range(2, nc):
            t2 = 2.0 * x * t1 - t0
            s += coef[b + m] * t2
            if want_vel:
                d2 = 2.0 * t1 + 2.0 * x * d1 - d0
                ds += coef[b + m] * d2
                d0 = d1
                d1 = d2
            t0 = t1
            t1 = t2
        pos[c] = s
        if want_vel:
            vel[c] = ds * 2.0 / days


@njit(cache=True)
def body_states(coef, off, nsets, ncoef, span, s_alpha, emrat, t, bp, sun_v, earth_v):
    """Barycentric positions ``bp`` (11, 3) [au] of the perturbers at ``t``; the velocities [au/day] of
    the Sun and the Earth go to ``sun_v`` and ``earth_v``."""
    tmp = np.empty(3)
    moon = np.empty(3)
    moon_v = np.empty(3)
    emb_v = np.empty(3)
    _series_eval(coef, off, nsets, ncoef, span, s_alpha, 0, t, True, bp[0], sun_v)
    _series_eval(coef, off, nsets, ncoef, span, s_alpha, 1, t, False, bp[1], tmp)
    _series_eval(coef, off, nsets, ncoef, span, s_alpha, 2, t, False, bp[2], tmp)
    _series_eval(coef, off, nsets, ncoef, span, s_alpha, 3, t, True, bp[3], emb_v)
    _series_eval(coef, off, nsets, ncoef, span, s_alpha, 4, t, True, moon, moon_v)
    share = 1.0 / (1.0 + emrat)
    for c in range(3):
        earth = bp[3, c] - share * moon[c]
        bp[4, c] = earth + moon[c]
        bp[3, c] = earth
        earth_v[c] = emb_v[c] - share * moon_v[c]
    for j in range(5, 11):
        _series_eval(coef, off, nsets, ncoef, span, s_alpha, j, t, False, bp[j], tmp)


@njit(cache=True)
def derivative(mode, t, y, gm, c2, coef, off, nsets, ncoef, span, s_alpha, emrat, dy, bp, sun_v, earth_v):
    """``dy = f(t, y)`` for the 42-component state (see the module docstring).

    The variational equations keep the gravity-gradient term ``G = da/dr`` of every point mass and
    leave out the tiny dependence of the relativistic term on the state (partials only steer the
    differential correction; the residuals themselves use the full model).
    """
    ax = 0.0
    ay = 0.0
    az = 0.0
    g00 = g01 = g02 = g11 = g12 = g22 = 0.0
    if mode == MODE_TWO_BODY:
        nb = 1
        bp[0, 0] = 0.0
        bp[0, 1] = 0.0
        bp[0, 2] = 0.0
        sun_v[0] = 0.0
        sun_v[1] = 0.0
        sun_v[2] = 0.0
    else:
        nb = NBODIES
        body_states(coef, off, nsets, ncoef, span, s_alpha, emrat, t, bp, sun_v, earth_v)
    for b in range(nb):
        dx = y[0] - bp[b, 0]
        dyy = y[1] - bp[b, 1]
        dz = y[2] - bp[b, 2]
        r2 = dx * dx + dyy * dyy + dz * dz
        r = math.sqrt(r2)
        k3 = gm[b] / (r2 * r)
        ax -= k3 * dx
        ay -= k3 * dyy
        az -= k3 * dz
        k5 = 3.0 * k3 / r2
        g00 += k5 * dx * dx - k3
        g01 += k5 * dx * dyy
        g02 += k5 * dx * dz
        g11 += k5 * dyy * dyy - k3
        g12 += k5 * dyy * dz
        g22 += k5 * dz * dz - k3
    if mode == MODE_NBODY and c2 > 0.0:
        # Sun's post-Newtonian term (Schwarzschild, PPN beta = gamma = 1) in heliocentric r, v.
        rx = y[0] - bp[0, 0]
        ry = y[1] - bp[0, 1]
        rz = y[2] - bp[0, 2]
        vx = y[3] - sun_v[0]
        vy = y[4] - sun_v[1]
        vz = y[5] - sun_v[2]
        r2 = rx * rx + ry * ry + rz * rz
        r = math.sqrt(r2)
        v2 = vx * vx + vy * vy + vz * vz
        rv = rx * vx + ry * vy + rz * vz
        k = gm[0] / (c2 * r2 * r)
        f1 = 4.0 * gm[0] / r - v2
        ax += k * (f1 * rx + 4.0 * rv * vx)
        ay += k * (f1 * ry + 4.0 * rv * vy)
        az += k * (f1 * rz + 4.0 * rv * vz)
    dy[0] = y[3]
    dy[1] = y[4]
    dy[2] = y[5]
    dy[3] = ax
    dy[4] = ay
    dy[5] = az
    # STM: rows 0-2 of dPhi are rows 3-5 of Phi; rows 3-5 are G @ rows 0-2 of Phi.
    for col in range(6):
        p0 = y[6 + col]
        p1 = y[12 + col]
        p2 = y[18 + col]
        dy[6 + col] = y[24 + col]
        dy[12 + col] = y[30 + col]
        dy[18 + col] = y[36 + col]
        dy[24 + col] = g00 * p0 + g01 * p1 + g02 * p2
        dy[30 + col] = g01 * p0 + g11 * p1 + g12 * p2
        dy[36 + col] = g02 * p0 + g12 * p1 + g22 * p2


@njit(cache=True)
def _hermite(y0, f0, y1, f1, h, s, out):
    """Quintic Hermite interpolation at fraction ``s`` of a step of length ``h``: position-like
    components from value, first and second derivative at both ends; velocity-like ones from the
    polynomial's derivative."""
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    s5 = s4 * s
    h0 = 1.0 - 10.0 * s3 + 15.0 * s4 - 6.0 * s5
    h1 = s - 6.0 * s3 + 8.0 * s4 - 3.0 * s5
    h2 = 0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5
    h3 = 10.0 * s3 - 15.0 * s4 + 6.0 * s5
    h4 = -4.0 * s3 + 7.0 * s4 - 3.0 * s5
    h5 = 0.5 * s3 - s4 + 0.5 * s5
    d0 = -30.0 * s2 + 60.0 * s3 - 30.0 * s4
    d1 = 1.0 - 18.0 * s2 + 32.0 * s3 - 15.0 * s4
    d2 = s - 4.5 * s2 + 6.0 * s3 - 2.5 * s4
    d3 = -d0
    d4 = -12.0 * s2 + 28.0 * s3 - 15.0 * s4
    d5 = 1.5 * s2 - 4.0 * s3 + 2.5 * s4
    for k in range(21):
        ip = _POS[k]
        iv = _VEL[k]
        p0 = y0[ip]
        v0 = y0[iv]
        a0 = f0[iv]
        p1 = y1[ip]
        v1 = y1[iv]
        a1 = f1[iv]
        out[ip] = h0 * p0 + h * h1 * v0 + h * h * h2 * a0 + h3 * p1 + h * h4 * v1 + h * h * h5 * a1
        out[iv] = (d0 * p0 + h * d1 * v0 + h * h * d2 * a0 + d3 * p1 + h * d4 * v1 + h * h * d5 * a1) / h


@njit(cache=True)
def _error_norm(y, a, b, rtol, atol):
    """Scaled difference of two estimates over position and velocity (the STM is not controlled)."""
    rn = math.sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2])
    vn = math.sqrt(y[3] * y[3] + y[4] * y[4] + y[5] * y[5])
    e = 0.0
    for i in range(3):
        d = abs(a[i] - b[i]) / (atol + rtol * rn)
        if d > e:
            e = d
        d = abs(a[3 + i] - b[3 + i]) / (atol + rtol * vn)
        if d > e:
            e = d
    return e


@njit(cache=True)
def integrate(
    mode, y0, t_out, direction, gm, c2, coef, off, nsets, ncoef, span, s_alpha, emrat,
    rtol, max_step, max_angle, y_out
):  # fmt: skip
    """Integrate from ``t = 0`` through every time of ``t_out`` (days from the reference epoch, sorted
    in the direction of integration, ``direction`` = +1 or -1) and write the states to ``y_out``.

    Returns the number of accepted steps, or ``-1`` when the step size collapsed (collision or a
    singular force field).

    The step is limited to ``max_step`` days and to a turn of ``max_angle`` radians of the object as
    seen from the Sun and from the Earth: the Hermite interpolation between steps then stays below
    ~1e-12 of the distance to either.
    """
    n_out = t_out.shape[0]
    y = y0.copy()
    f0 = np.empty(NSTATE)
    f1 = np.empty(NSTATE)
    ytmp = np.empty(NSTATE)
    zm = np.empty(NSTATE)
    zn = np.empty(NSTATE)
    zs = np.empty(NSTATE)
    table = np.empty((_KMAX, NSTATE))
    bp = np.empty((NBODIES, 3))
    sun_v = np.zeros(3)
    earth_v = np.zeros(3)
    t = 0.0
    i_out = 0
    # outputs at the start time itself
    while i_out < n_out and t_out[i_out] == 0.0:
        y_out[i_out, :] = y
        i_out += 1
    if i_out == n_out:
        return 0
    t_end = t_out[n_out - 1]
    derivative(mode, t, y, gm, c2, coef, off, nsets, ncoef, span, s_alpha, emrat, f0, bp, sun_v, earth_v)
    h = direction * min(max_step, 1.0)
    steps = 0
    while i_out < n_out:
        # step limits: the end of the span, the maximum step and the turn angles
        lim = max_step
        for ref in range(2 if mode == MODE_NBODY else 1):
            if ref == 0:
                rx = y[0] - bp[0, 0]
                ry = y[1] - bp[0, 1]
                rz = y[2] - bp[0, 2]
                vx = y[3] - sun_v[0]
                vy = y[4] - sun_v[1]
                vz = y[5] - sun_v[2]
            else:
                rx = y[0] - bp[3, 0]
                ry = y[1] - bp[3, 1]
                rz = y[2] - bp[3, 2]
                vx = y[3] - earth_v[0]
                vy = y[4] - earth_v[1]
                vz = y[5] - earth_v[2]
            rr = math.sqrt(rx * rx + ry * ry + rz * rz)
            vv = math.sqrt(vx * vx + vy * vy + vz * vz)
            if vv > 0.0 and max_angle * rr / vv < lim:
                lim = max_angle * rr / vv
        if abs(h) > lim:
            h = direction * lim
        remaining = t_end - t
        if direction * (t + h - t_end) > 0.0:
            h = remaining
        accepted = False
        while not accepted:
            if abs(h) < 1e-12:
                return -1
            for k in range(_KMAX):
                n = _SEQ[k]
                hs = h / n
                # modified midpoint with n substeps
                for i in range(NSTATE):
                    zm[i] = y[i]
                    zn[i] = y[i] + hs * f0[i]
                for m in range(1, n):
                    derivative(mode, t + m * hs, zn, gm, c2, coef, off, nsets, ncoef, span, s_alpha, emrat,
                               ytmp, bp, sun_v, earth_v)  # fmt: skip
                    for i in range(NSTATE):
                        znew = zm[i] + 2.0 * hs * ytmp[i]
                        zm[i] = zn[i]
                        zn[i] = znew
                derivative(mode, t + h, zn, gm, c2, coef, off, nsets, ncoef, span, s_alpha, emrat,
                           ytmp, bp, sun_v, earth_v)  # fmt: skip
                for i in range(NSTATE):
                    table[k, i] = 0.5 * (zm[i] + zn[i] + hs * ytmp[i])
                # Richardson extrapolation in h^2 (Neville's scheme, in place, newest row last)
                for j in range(k - 1, -1, -1):
                    ratio = (_SEQ[k] / _SEQ[j]) ** 2 - 1.0
                    for i in range(NSTATE):
                        table[j, i] = table[j + 1, i] + (table[j + 1, i] - table[j, i]) / ratio
                if k >= 2:
                    err = _error_norm(y, table[0], zs, rtol, 1e-18)
                    if err <= 1.0:
                        accepted = True
                        break
                for i in range(NSTATE):
                    zs[i] = table[0, i]
            if not accepted:
                h *= 0.5
        # table[0] holds the most extrapolated value; derivative at the new point for the next step
        t_new = t + h
        derivative(mode, t_new, table[0], gm, c2, coef, off, nsets, ncoef, span, s_alpha, emrat, f1, bp,
                   sun_v, earth_v)  # fmt: skip
        while i_out < n_out and direction * (t_out[i_out] - t_new) <= 0.0:
            s = (t_out[i_out] - t) / h
            _hermite(y, f0, table[0], f1, h, s, y_out[i_out])
            i_out += 1
        for i in range(NSTATE):
            y[i] = table[0, i]
            f0[i] = f1[i]
        t = t_new
        steps += 1
        # next step: grow when few levels sufficed, shrink when many were needed
        if k <= 3:
            h *= 1.8
        elif k <= 5:
            h *= 1.2
        elif k == 7:
            h *= 0.7
    return steps
