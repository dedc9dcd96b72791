"""Branch-free deep-space SDP4 over the times of one satellite, vectorisable (private).

The reference-shaped deep-space loop (``_sgp4_kernels._deep_space_sat``) is inherently scalar: libm
calls, the Lyddane branch, and the resonance integrator carried from one time to the next. Here, for
deep-space orbits with e < ``FAST_MAX_ECC`` (geosynchronous, navigation, ...):

* the resonance integrator is run once per satellite over the 720-min steps the times need, and its
  states are tabulated. The reference reaches time t from the state at step k = ⌊|t| / 720⌋ (taken in
  the direction of t) whatever the order of the calls, so every time reads its state from the table —
  the same arithmetic, hence the same numbers, and the time loop has no carried state;
* (xke/n)^(2/3) is (xke/n0)^(2/3) · (n0/n)^(2/3) with n/n0 − 1 ≲ 1e-4: three Newton steps for a cube
  root instead of ``pow``;
* both branches of the lunar-solar periodics (direct, and Lyddane's for inclinations < 0.2 rad) are
  computed and selected per time, with our own ``atan2`` (reduction to |a| ≤ tan(π/16) and an odd
  Taylor polynomial, error ≤ ~3e-16 rad, measured in the tests);
* Kepler and the short-period terms as in the near-earth fast path (``_sgp4_fast``).

Times that leave the class (eccentricity, a perturbed eccentricity outside [0, 1], n ≤ 0, p ≤ 0, decay)
are flagged and recomputed by the reference-shaped path, which then owns the error code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from s2p import _numba_cache
from s2p.debris._sgp4_fast import BLOCK, FAST_MAX_ECC, KEPLER_STEPS, VKMPERSEC, sincos, sincos_small
from s2p.debris._sgp4_init import (
    C_ARGPDOT,
    C_ARGPO,
    C_BSTAR,
    C_CC1,
    C_CC4,
    C_D2201,
    C_D2211,
    C_D3210,
    C_D3222,
    C_D4410,
    C_D4422,
    C_D5220,
    C_D5232,
    C_D5421,
    C_D5433,
    C_DEDT,
    C_DEL1,
    C_DEL2,
    C_DEL3,
    C_DIDT,
    C_DMDT,
    C_DNODT,
    C_DOMDT,
    C_E3,
    C_ECCO,
    C_EE2,
    C_GSTO,
    C_INCLO,
    C_IREZ,
    C_MDOT,
    C_MO,
    C_NO,
    C_NODECF,
    C_NODEDOT,
    C_NODEO,
    C_PEO,
    C_PGHO,
    C_PHO,
    C_PINCO,
    C_PLO,
    C_SE2,
    C_SE3,
    C_SGH2,
    C_SGH3,
    C_SGH4,
    C_SH2,
    C_SH3,
    C_SI2,
    C_SI3,
    C_SL2,
    C_SL3,
    C_SL4,
    C_T2COF,
    C_XFACT,
    C_XGH2,
    C_XGH3,
    C_XGH4,
    C_XH2,
    C_XH3,
    C_XI2,
    C_XI3,
    C_XL2,
    C_XL3,
    C_XL4,
    C_XLAMO,
    C_ZMOL,
    C_ZMOS,
    J2,
    J3OJ2,
    RE,
    X2O3,
    XKE,
)

_numba_cache.drop_stale(__file__, "_sgp4_init.py", "_sgp4_fast.py")

TWOPI = 2.0 * math.pi
PI = math.pi
TAN_PI_16 = math.tan(math.pi / 16)
TAN_3PI_16 = math.tan(3 * math.pi / 16)
TAN_PI_8 = math.tan(math.pi / 8)
# atan(a) = a − a³/3 + a⁵/5 − ...: through a^23 the remainder is < 3e-18 for |a| ≤ tan(π/16)
A3, A5, A7, A9, A11, A13, A15, A17, A19, A21, A23 = ((-1.0) ** k / (2 * k + 1) for k in range(1, 12))
STEP = 720.0  # resonance integrator step [min]
STEP2 = 259200.0


@njit(inline="always", error_model="numpy", cache=True)
def atan2_fast(y, x):
    """atan2 without libm, vectorisable (same quadrant conventions for finite, non-zero inputs)."""
    ax = abs(x)
    ay = abs(y)
    mx = max(ax, ay)
    mn = min(ax, ay)
    a = mn / mx if mx > 0.0 else 0.0
    # a in [0, 1]: shift by c = 0, π/8 or π/4 so that the rest is within ±tan(π/16)
    if a <= TAN_PI_16:
        c = 0.0
        tc = 0.0
    elif a <= TAN_3PI_16:
        c = 0.125 * PI
        tc = TAN_PI_8
    else:
        c = 0.25 * PI
        tc = 1.0
    z = (a - tc) / (1.0 + a * tc)
    z2 = z * z
    p = A21 + z2 * A23
    p = A19 + z2 * p
    p = A17 + z2 * p
    p = A15 + z2 * p
    p = A13 + z2 * p
    p = A11 + z2 * p
    p = A9 + z2 * p
    p = A7 + z2 * p
    p = A5 + z2 * p
    p = A3 + z2 * p
    r = c + (z + z * z2 * p)
    if ay > ax:
        r = 0.5 * PI - r
    if x < 0.0:
        r = PI - r
    if y < 0.0:
        r = -r
    return r


@njit(error_model="numpy", cache=True)
def _resonance_rates(irez, xli, xni, atime, del1, del2, del3, xfact, argpo, argpdot, d):
    """(xldot, xndt, xnddt) of the resonance integrator at a state (Vallado's dspace)."""
    fasx2 = 0.13130908
    fasx4 = 2.8843198
    fasx6 = 0.37448087
    g22 = 5.7686396
    g32 = 0.95240898
    g44 = 1.8014998
    g52 = 1.0508330
    g54 = 4.4108898
    xldot = xni + xfact
    if irez != 2:
        xndt = (
            del1 * math.sin(xli - fasx2)
            + del2 * math.sin(2.0 * (xli - fasx4))
            + del3 * math.sin(3.0 * (xli - fasx6))
        )
        xnddt = (
            del1 * math.cos(xli - fasx2)
            + 2.0 * del2 * math.cos(2.0 * (xli - fasx4))
            + 3.0 * del3 * math.cos(3.0 * (xli - fasx6))
        )
    else:
        xomi = argpo + argpdot * atime
        x2omi = xomi + xomi
        x2li = xli + xli
        xndt = (
            d[0] * math.sin(x2omi + xli - g22)
            + d[1] * math.sin(xli - g22)
            + d[2] * math.sin(xomi + xli - g32)
            + d[3] * math.sin(-xomi + xli - g32)
            + d[4] * math.sin(x2omi + x2li - g44)
            + d[5] * math.sin(x2li - g44)
            + d[6] * math.sin(xomi + xli - g52)
            + d[7] * math.sin(-xomi + xli - g52)
            + d[8] * math.sin(xomi + x2li - g54)
            + d[9] * math.sin(-xomi + x2li - g54)
        )
        xnddt = (
            d[0] * math.cos(x2omi + xli - g22)
            + d[1] * math.cos(xli - g22)
            + d[2] * math.cos(xomi + xli - g32)
            + d[3] * math.cos(-xomi + xli - g32)
            + d[6] * math.cos(xomi + xli - g52)
            + d[7] * math.cos(-xomi + xli - g52)
            + 2.0
            * (
                d[4] * math.cos(x2omi + x2li - g44)
                + d[5] * math.cos(x2li - g44)
                + d[8] * math.cos(xomi + x2li - g54)
                + d[9] * math.cos(-xomi + x2li - g54)
            )
        )
    return xldot, xndt, xnddt * xldot


@njit(error_model="numpy", cache=True)
def _resonance_table(c, i, kmax, direction):
    """States (atime, xli, xni, xldot, xndt, xnddt) at steps 0..kmax in ``direction`` (+1 or −1)."""
    irez = int(c[C_IREZ, i])
    d = np.empty(10)
    for k, row in enumerate(
        (C_D2201, C_D2211, C_D3210, C_D3222, C_D4410, C_D4422, C_D5220, C_D5232, C_D5421, C_D5433)
    ):
        d[k] = c[row, i]
    tab = np.empty((6, kmax + 1))
    atime = 0.0
    xli = c[C_XLAMO, i]
    xni = c[C_NO, i]
    delt = STEP * direction
    for k in range(kmax + 1):
        xldot, xndt, xnddt = _resonance_rates(
            irez,
            xli,
            xni,
            atime,
            c[C_DEL1, i],
            c[C_DEL2, i],
            c[C_DEL3, i],
            c[C_XFACT, i],
            c[C_ARGPO, i],
            c[C_ARGPDOT, i],
            d,
        )
        tab[0, k] = atime
        tab[1, k] = xli
        tab[2, k] = xni
        tab[3, k] = xldot
        tab[4, k] = xndt
        tab[5, k] = xnddt
        xli = xli + xldot * delt + xndt * STEP2
        xni = xni + xndt * delt + xnddt * STEP2
        atime = atime + delt
    return tab


@njit(error_model="numpy", cache=True)
def deep_space_fast(c, i, times, t0, scale, afspc, r, v, err):
    """Deep-space satellite ``i`` at every time; err[i, j] = 1 where the reference path must redo it."""
    zns = 1.19459e-5
    zes = 0.01675
    znl = 1.5835218e-4
    zel = 0.05490
    rptim = 4.37526908801129966e-3

    bstar = c[C_BSTAR, i]
    ecco = c[C_ECCO, i]
    argpo = c[C_ARGPO, i]
    inclo = c[C_INCLO, i]
    mo = c[C_MO, i]
    no = c[C_NO, i]
    nodeo = c[C_NODEO, i]
    mdot = c[C_MDOT, i]
    argpdot = c[C_ARGPDOT, i]
    nodedot = c[C_NODEDOT, i]
    nodecf = c[C_NODECF, i]
    cc1 = c[C_CC1, i]
    bcc4 = bstar * c[C_CC4, i]
    t2cof = c[C_T2COF, i]
    gsto = c[C_GSTO, i]
    irez = int(c[C_IREZ, i])
    dedt = c[C_DEDT, i]
    didt = c[C_DIDT, i]
    dmdt = c[C_DMDT, i]
    dnodt = c[C_DNODT, i]
    domdt = c[C_DOMDT, i]
    e3 = c[C_E3, i]
    ee2 = c[C_EE2, i]
    peo = c[C_PEO, i]
    pgho = c[C_PGHO, i]
    pho = c[C_PHO, i]
    pinco = c[C_PINCO, i]
    plo = c[C_PLO, i]
    se2 = c[C_SE2, i]
    se3 = c[C_SE3, i]
    sgh2 = c[C_SGH2, i]
    sgh3 = c[C_SGH3, i]
    sgh4 = c[C_SGH4, i]
    sh2 = c[C_SH2, i]
    sh3 = c[C_SH3, i]
    si2 = c[C_SI2, i]
    si3 = c[C_SI3, i]
    sl2 = c[C_SL2, i]
    sl3 = c[C_SL3, i]
    sl4 = c[C_SL4, i]
    xgh2 = c[C_XGH2, i]
    xgh3 = c[C_XGH3, i]
    xgh4 = c[C_XGH4, i]
    xh2 = c[C_XH2, i]
    xh3 = c[C_XH3, i]
    xi2 = c[C_XI2, i]
    xi3 = c[C_XI3, i]
    xl2 = c[C_XL2, i]
    xl3 = c[C_XL3, i]
    xl4 = c[C_XL4, i]
    zmol = c[C_ZMOL, i]
    zmos = c[C_ZMOS, i]
    a_no = (XKE / no) ** X2O3
    k2 = 0.5 * J2
    nt = times.shape[0]

    # resonance integrator states over the steps the times need, in both directions
    kpos = 0
    kneg = 0
    if irez != 0:
        for j in range(nt):
            t = (times[j] - t0) * scale
            if t > 0.0:
                kpos = max(kpos, int(math.floor(t / STEP)))
            else:
                kneg = max(kneg, int(math.floor(-t / STEP)))
    tab_p = _resonance_table(c, i, kpos, 1.0)
    tab_n = _resonance_table(c, i, kneg, -1.0)
    # one table over signed steps -kneg..kpos (column kneg is the state at epoch) so that a time reads
    # its state with a single gather
    tab = np.empty((6, kneg + kpos + 1))
    for k in range(kneg + 1):
        tab[:, kneg - k] = tab_n[:, k]
    for k in range(kpos + 1):
        tab[:, kneg + k] = tab_p[:, k]

    s_am = np.empty(BLOCK)
    s_nm = np.empty(BLOCK)
    s_axnl = np.empty(BLOCK)
    s_aynl = np.empty(BLOCK)
    s_u = np.empty(BLOCK)
    s_eo1 = np.empty(BLOCK)
    s_node = np.empty(BLOCK)
    s_inc = np.empty(BLOCK)
    s_em = np.empty(BLOCK)
    s_mm = np.empty(BLOCK)
    s_argp = np.empty(BLOCK)
    s_flag = np.empty(BLOCK, dtype=np.int8)
    out = np.empty((6, BLOCK))

    for j0 in range(0, nt, BLOCK):
        nb = min(BLOCK, nt - j0)
        # --- stage 1a: secular terms and the resonance → mean elements
        for b in range(nb):
            t = (times[j0 + b] - t0) * scale
            t2 = t * t
            mm = mo + mdot * t + dmdt * t
            argpm = argpo + argpdot * t + domdt * t
            nodem = nodeo + nodedot * t + nodecf * t2 + dnodt * t
            em = ecco + dedt * t
            inclm = inclo + didt * t
            tempa = 1.0 - cc1 * t
            # resonance: always evaluated (column 0 when there is none) and selected, because a load
            # under a branch keeps LLVM from vectorising the loop
            k = int(math.floor(abs(t) / STEP))
            col = (kneg + k if t > 0.0 else kneg - k) if irez != 0 else 0
            ft = t - tab[0, col]
            nm_res = tab[2, col] + tab[4, col] * ft + tab[5, col] * ft * ft * 0.5
            xl = tab[1, col] + tab[3, col] * ft + tab[4, col] * ft * ft * 0.5
            theta = gsto + t * rptim
            mm_res = xl - 2.0 * nodem + 2.0 * theta if irez == 2 else xl - nodem - argpm + theta
            mm = mm_res if irez != 0 else mm
            nm = no + (nm_res - no) if irez != 0 else no
            flag = nm <= 0.0
            # (xke/nm)^(2/3) = a_no * q^(2/3), q = no/nm ≈ 1: Newton for y³ = q²
            q = no / nm if nm > 0.0 else 1.0
            q2 = q * q
            y = 1.0 + (2.0 / 3.0) * (q - 1.0)
            y = y - (y * y * y - q2) / (3.0 * y * y)
            y = y - (y * y * y - q2) / (3.0 * y * y)
            y = y - (y * y * y - q2) / (3.0 * y * y)
            am = a_no * y * tempa * tempa
            nm = XKE / (am * math.sqrt(am))
            em = em - bcc4 * t
            flag = flag or em >= FAST_MAX_ECC or em < -0.001
            em = max(em, 1.0e-6)
            mm = mm + no * (t2cof * t2)
            s_am[b] = am
            s_nm[b] = nm
            s_em[b] = em
            s_mm[b] = mm
            s_argp[b] = argpm
            s_node[b] = nodem
            s_inc[b] = inclm
            s_flag[b] = 1 if flag else 0
        # --- stage 1b: lunar-solar periodics (dpper), both inclination branches, Kepler's inputs
        for b in range(nb):
            t = (times[j0 + b] - t0) * scale
            am = s_am[b]
            em = s_em[b]
            mm = s_mm[b]
            argpm = s_argp[b]
            nodem = s_node[b]
            inclm = s_inc[b]
            s0, _c0 = sincos(zmos + zns * t)
            sinzf, coszf = sincos(zmos + zns * t + 2.0 * zes * s0)
            f2 = 0.5 * sinzf * sinzf - 0.25
            f3 = -0.5 * sinzf * coszf
            ses = se2 * f2 + se3 * f3
            sis = si2 * f2 + si3 * f3
            sls = sl2 * f2 + sl3 * f3 + sl4 * sinzf
            sghs = sgh2 * f2 + sgh3 * f3 + sgh4 * sinzf
            shs = sh2 * f2 + sh3 * f3
            s0, _c0 = sincos(zmol + znl * t)
            sinzf, coszf = sincos(zmol + znl * t + 2.0 * zel * s0)
            f2 = 0.5 * sinzf * sinzf - 0.25
            f3 = -0.5 * sinzf * coszf
            pe = ses + ee2 * f2 + e3 * f3 - peo
            pinc = sis + xi2 * f2 + xi3 * f3 - pinco
            pl = sls + xl2 * f2 + xl3 * f3 + xl4 * sinzf - plo
            pgh = sghs + xgh2 * f2 + xgh3 * f3 + xgh4 * sinzf - pgho
            ph = shs + xh2 * f2 + xh3 * f3 - pho
            xincp = inclm + pinc
            ep = em + pe
            sinip, cosip = sincos(xincp)
            # direct application (inclination ≥ 0.2 rad)
            ph_d = ph / sinip
            argp_d = argpm + (pgh - cosip * ph_d)
            node_d = nodem + ph_d
            # Lyddane's form (inclination < 0.2 rad)
            sinop, cosop = sincos(nodem)
            alfdp = sinip * sinop + (ph * cosop + pinc * cosip * sinop)
            betdp = sinip * cosop + (-ph * sinop + pinc * cosip * cosop)
            node0 = nodem - TWOPI * float(int(nodem / TWOPI))  # fmod
            if afspc and node0 < 0.0:
                node0 = node0 + TWOPI
            xls = mm + argpm + cosip * node0 + (pl + pgh - pinc * node0 * sinip)
            node_l = atan2_fast(alfdp, betdp)
            if afspc and node_l < 0.0:
                node_l = node_l + TWOPI
            if abs(node0 - node_l) > PI:
                node_l = node_l + TWOPI if node_l < node0 else node_l - TWOPI
            argp_l = xls - (mm + pl) - cosip * node_l
            lyd = xincp < 0.2
            argpp = argp_l if lyd else argp_d
            nodep = node_l if lyd else node_d
            mp = mm + pl
            if xincp < 0.0:
                xincp = -xincp
                nodep = nodep + PI
                argpp = argpp - PI
            flag = ep < 0.0 or ep >= FAST_MAX_ECC

            sinip, cosip = sincos(xincp)
            aycof = -0.5 * J3OJ2 * sinip
            den = 1.0 + cosip if abs(cosip + 1.0) > 1.5e-12 else 1.5e-12
            xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / den
            sw, cw = sincos(argpp)
            axnl = ep * cw
            temp = 1.0 / (am * (1.0 - ep * ep))
            s_axnl[b] = axnl
            s_aynl[b] = ep * sw + temp * aycof
            u = mp + argpp + temp * xlcof * axnl  # = xl - node (mod 2π)
            u = u - TWOPI * np.floor(u / TWOPI + 0.5)
            s_u[b] = u
            s_eo1[b] = u
            s_node[b] = nodep
            s_inc[b] = xincp
            s_flag[b] = s_flag[b] | (1 if flag else 0)
        # --- stage 2: Newton for Kepler's equation, fixed steps
        for _ in range(KEPLER_STEPS - 1):
            for b in range(nb):
                eo1 = s_eo1[b]
                axnl = s_axnl[b]
                aynl = s_aynl[b]
                se, ce = sincos(eo1)
                tem5 = (s_u[b] - aynl * ce + axnl * se - eo1) / (1.0 - ce * axnl - se * aynl)
                s_eo1[b] = eo1 + min(max(tem5, -0.95), 0.95)
        # --- stage 3: short-period terms and the TEME vectors
        # The same lines as near_earth_fast's stage 3 (with the perturbed inclination). Kept as a copy on
        # purpose: moving them (and stage 4) into a shared inline='always' helper was measured to cut the
        # whole catalogue's throughput from ~78 to ~47 M sat-epochs/s (bench/debris_sgp4.py, 2026-11-22).
        for b in range(nb):
            am = s_am[b]
            nm = s_nm[b]
            axnl = s_axnl[b]
            aynl = s_aynl[b]
            sinip, cosip = sincos(s_inc[b])
            cosisq = cosip * cosip
            con41 = 3.0 * cosisq - 1.0
            x1mth2 = 1.0 - cosisq
            x7thm1 = 7.0 * cosisq - 1.0
            se, ce = sincos(s_eo1[b])
            ecose = axnl * ce + aynl * se
            esine = axnl * se - aynl * ce
            el2 = axnl * axnl + aynl * aynl
            pl = am * (1.0 - el2)
            bad = pl <= 0.0
            pl = max(pl, 1e-300)
            rl = am * (1.0 - ecose)
            rdotl = math.sqrt(am) * esine / rl
            rvdotl = math.sqrt(pl) / rl
            betal = math.sqrt(1.0 - el2)
            temp = esine / (1.0 + betal)
            sinu = am / rl * (se - aynl - axnl * temp)
            cosu = am / rl * (ce - axnl + aynl * temp)
            sin2u = (cosu + cosu) * sinu
            cos2u = 1.0 - 2.0 * sinu * sinu
            norm = 1.0 / math.sqrt(sinu * sinu + cosu * cosu)
            sinu = sinu * norm
            cosu = cosu * norm
            temp = 1.0 / pl
            temp1 = k2 * temp
            temp2 = temp1 * temp
            mrt = rl * (1.0 - 1.5 * temp2 * betal * con41) + 0.5 * temp1 * x1mth2 * cos2u
            bad = bad or mrt < 1.0
            s_flag[b] = s_flag[b] | (1 if bad else 0)
            mvt = rdotl - nm * temp1 * x1mth2 * sin2u / XKE
            rvdot = rvdotl + nm * temp1 * (x1mth2 * cos2u + 1.5 * con41) / XKE
            sd, cd = sincos_small(-0.25 * temp2 * x7thm1 * sin2u)
            sinsu = sinu * cd + cosu * sd
            cossu = cosu * cd - sinu * sd
            sn0, cn0 = sincos(s_node[b])
            sd, cd = sincos_small(1.5 * temp2 * cosip * sin2u)
            snod = sn0 * cd + cn0 * sd
            cnod = cn0 * cd - sn0 * sd
            sd, cd = sincos_small(1.5 * temp2 * cosip * sinip * cos2u)
            sini = sinip * cd + cosip * sd
            cosi = cosip * cd - sinip * sd
            xmx = -snod * cosi
            xmy = cnod * cosi
            ux = xmx * sinsu + cnod * cossu
            uy = xmy * sinsu + snod * cossu
            uz = sini * sinsu
            vx = xmx * cossu - cnod * sinsu
            vy = xmy * cossu - snod * sinsu
            vz = sini * cossu
            mr = mrt * RE
            out[0, b] = mr * ux
            out[1, b] = mr * uy
            out[2, b] = mr * uz
            out[3, b] = (mvt * ux + rvdot * vx) * VKMPERSEC
            out[4, b] = (mvt * uy + rvdot * vy) * VKMPERSEC
            out[5, b] = (mvt * uz + rvdot * vz) * VKMPERSEC
        for b in range(nb):
            j = j0 + b
            r[i, j, 0] = out[0, b]
            r[i, j, 1] = out[1, b]
            r[i, j, 2] = out[2, b]
            v[i, j, 0] = out[3, b]
            v[i, j, 1] = out[4, b]
            v[i, j, 2] = out[5, b]
            err[i, j] = s_flag[b]
