"""SGP4/SDP4 propagation kernels (private): satellites × times → TEME position/velocity and error codes.

One satellite per ``prange`` iteration; its constants are loaded once into locals (hoisted out of the
time loop) and every result is written straight into the caller's output arrays.

Two implementations of the same equations:

* the *reference-shaped* loops here (``_near_earth_sat``, ``_deep_space_sat``) follow Vallado's code
  step by step (libm calls, ``fmod``, Kepler's early exit, the resonance integrator carried from one
  time to the next as the reference keeps it in its ``satrec``). They are what the Vallado
  verification test checks to the printed digits, and they own every error code;
* the *vectorised* paths (``_sgp4_fast.near_earth_fast``, ``_sgp4_fast_deep.deep_space_fast``) handle
  satellites with e < 0.1 — nearly the whole catalogue — ~10-20x faster, flagging any time that leaves
  their domain; flagged times are redone by the reference-shaped loop. Both paths agree to ~1e-7 km
  (tests). ``propagate_minutes_reference`` runs the reference-shaped loops only, for comparisons.

Error codes (Vallado 2006): 1 mean eccentricity out of range, 2 mean motion ≤ 0, 3 perturbed
eccentricity out of range, 4 semi-latus rectum < 0, 6 satellite has decayed (radius < 1 Earth radius).
On codes 1–4 position and velocity are NaN; on code 6 they are still computed (as the reference does).

Decisions: ``fastmath=False`` — the reference-shaped loops must reproduce the reference's rounding, and
the fast paths vectorise without it. Developer note: numba's on-disk cache of a dispatcher here is not
invalidated when a function it inlines from another module (``_sgp4_fast*``) changes: after editing
those, delete ``libs/s2p/debris/__pycache__/_sgp4*.nb*``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from s2p.debris import _numba_cache
from s2p.debris._sgp4_fast import FAST_MAX_ECC, near_earth_fast
from s2p.debris._sgp4_fast_deep import deep_space_fast
from s2p.debris._sgp4_init import (
    C_ARGPDOT,
    C_ARGPO,
    C_AYCOF,
    C_BSTAR,
    C_CC1,
    C_CC4,
    C_CC5,
    C_CON41,
    C_COSIO,
    C_D2,
    C_D3,
    C_D4,
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
    C_DEEP,
    C_DEL1,
    C_DEL2,
    C_DEL3,
    C_DELMO,
    C_DIDT,
    C_DMDT,
    C_DNODT,
    C_DOMDT,
    C_E3,
    C_ECCO,
    C_EE2,
    C_ETA,
    C_GSTO,
    C_INCLO,
    C_IREZ,
    C_ISIMP,
    C_MDOT,
    C_MO,
    C_NO,
    C_NODECF,
    C_NODEDOT,
    C_NODEO,
    C_OMGCOF,
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
    C_SINIO,
    C_SINMAO,
    C_SL2,
    C_SL3,
    C_SL4,
    C_T2COF,
    C_T3COF,
    C_T4COF,
    C_T5COF,
    C_X1MTH2,
    C_X7THM1,
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
    C_XLCOF,
    C_XMCOF,
    C_ZMOL,
    C_ZMOS,
    J2,
    J3OJ2,
    RE,
    TWOPI,
    X2O3,
    XKE,
)  # fmt: skip

_numba_cache.drop_stale(__file__, "_sgp4_init.py", "_sgp4_fast.py", "_sgp4_fast_deep.py")

VKMPERSEC = RE * XKE / 60.0  # Earth radii per minute → km/s
NAN = math.nan


@njit(cache=True)
def _short_periodics(r, v, i, j, am, ep, xincp, nodep, argpp, mp, nm, aycof, xlcof, con41, x1mth2, x7thm1,
                     sinip, cosip):  # fmt: skip
    """Solve Kepler's equation, add the short-period terms, write r[i, j], v[i, j]; return the error code."""
    axnl = ep * math.cos(argpp)
    temp = 1.0 / (am * (1.0 - ep * ep))
    aynl = ep * math.sin(argpp) + temp * aycof
    xl = mp + argpp + nodep + temp * xlcof * axnl

    # Kepler's equation in the equinoctial-like variables (Newton, steps clipped at 0.95 rad)
    u = np.fmod(xl - nodep, TWOPI)
    eo1 = u
    tem5 = 9999.9
    ktr = 1
    sineo1 = 0.0
    coseo1 = 0.0
    while abs(tem5) >= 1.0e-12 and ktr <= 10:
        sineo1 = math.sin(eo1)
        coseo1 = math.cos(eo1)
        tem5 = 1.0 - coseo1 * axnl - sineo1 * aynl
        tem5 = (u - aynl * coseo1 + axnl * sineo1 - eo1) / tem5
        if abs(tem5) >= 0.95:
            tem5 = 0.95 if tem5 > 0.0 else -0.95
        eo1 = eo1 + tem5
        ktr += 1

    ecose = axnl * coseo1 + aynl * sineo1
    esine = axnl * sineo1 - aynl * coseo1
    el2 = axnl * axnl + aynl * aynl
    pl = am * (1.0 - el2)
    if pl < 0.0:
        for k in range(3):
            r[i, j, k] = NAN
            v[i, j, k] = NAN
        return 4

    rl = am * (1.0 - ecose)
    rdotl = math.sqrt(am) * esine / rl
    rvdotl = math.sqrt(pl) / rl
    betal = math.sqrt(1.0 - el2)
    temp = esine / (1.0 + betal)
    sinu = am / rl * (sineo1 - aynl - axnl * temp)
    cosu = am / rl * (coseo1 - axnl + aynl * temp)
    su = math.atan2(sinu, cosu)
    sin2u = (cosu + cosu) * sinu
    cos2u = 1.0 - 2.0 * sinu * sinu
    temp = 1.0 / pl
    temp1 = 0.5 * J2 * temp
    temp2 = temp1 * temp

    mrt = rl * (1.0 - 1.5 * temp2 * betal * con41) + 0.5 * temp1 * x1mth2 * cos2u
    su = su - 0.25 * temp2 * x7thm1 * sin2u
    xnode = nodep + 1.5 * temp2 * cosip * sin2u
    xinc = xincp + 1.5 * temp2 * cosip * sinip * cos2u
    mvt = rdotl - nm * temp1 * x1mth2 * sin2u / XKE
    rvdot = rvdotl + nm * temp1 * (x1mth2 * cos2u + 1.5 * con41) / XKE

    sinsu = math.sin(su)
    cossu = math.cos(su)
    snod = math.sin(xnode)
    cnod = math.cos(xnode)
    sini = math.sin(xinc)
    cosi = math.cos(xinc)
    xmx = -snod * cosi
    xmy = cnod * cosi
    ux = xmx * sinsu + cnod * cossu
    uy = xmy * sinsu + snod * cossu
    uz = sini * sinsu
    vx = xmx * cossu - cnod * sinsu
    vy = xmy * cossu - snod * sinsu
    vz = sini * cossu

    mr = mrt * RE
    r[i, j, 0] = mr * ux
    r[i, j, 1] = mr * uy
    r[i, j, 2] = mr * uz
    v[i, j, 0] = (mvt * ux + rvdot * vx) * VKMPERSEC
    v[i, j, 1] = (mvt * uy + rvdot * vy) * VKMPERSEC
    v[i, j, 2] = (mvt * uz + rvdot * vz) * VKMPERSEC
    if mrt < 1.0:
        return 6
    return 0


@njit(cache=True)
def _fail(r, v, err, i, j, code):
    for k in range(3):
        r[i, j, k] = NAN
        v[i, j, k] = NAN
    err[i, j] = code


@njit(cache=True)
def _near_earth_sat(c, i, times, t0, scale, r, v, err, j0, j1):
    """Propagate near-earth satellite ``i`` to times[j0:j1]: tsince = (times[j] - t0) * scale [min]."""
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
    bcc5 = bstar * c[C_CC5, i]
    t2cof = c[C_T2COF, i]
    omgcof = c[C_OMGCOF, i]
    xmcof = c[C_XMCOF, i]
    eta = c[C_ETA, i]
    delmo = c[C_DELMO, i]
    sinmao = c[C_SINMAO, i]
    d2 = c[C_D2, i]
    d3 = c[C_D3, i]
    d4 = c[C_D4, i]
    t3cof = c[C_T3COF, i]
    t4cof = c[C_T4COF, i]
    t5cof = c[C_T5COF, i]
    simple = c[C_ISIMP, i] != 0.0
    aycof = c[C_AYCOF, i]
    xlcof = c[C_XLCOF, i]
    con41 = c[C_CON41, i]
    x1mth2 = c[C_X1MTH2, i]
    x7thm1 = c[C_X7THM1, i]
    sinio = c[C_SINIO, i]
    cosio = c[C_COSIO, i]
    # hoisted: (xke / no)^(2/3), the same expression the reference evaluates at every call
    a_no = (XKE / no) ** X2O3 if no > 0.0 else 0.0

    for j in range(j0, j1):
        t = (times[j] - t0) * scale
        xmdf = mo + mdot * t
        argpdf = argpo + argpdot * t
        nodedf = nodeo + nodedot * t
        argpm = argpdf
        mm = xmdf
        t2 = t * t
        nodem = nodedf + nodecf * t2
        tempa = 1.0 - cc1 * t
        tempe = bcc4 * t
        templ = t2cof * t2
        if not simple:
            delomg = omgcof * t
            delmtemp = 1.0 + eta * math.cos(xmdf)
            delm = xmcof * (delmtemp * delmtemp * delmtemp - delmo)
            temp = delomg + delm
            mm = xmdf + temp
            argpm = argpdf - temp
            t3 = t2 * t
            t4 = t3 * t
            tempa = tempa - d2 * t2 - d3 * t3 - d4 * t4
            tempe = tempe + bcc5 * (math.sin(mm) - sinmao)
            templ = templ + t3cof * t3 + t4 * (t4cof + t * t5cof)

        if no <= 0.0:
            _fail(r, v, err, i, j, 2)
            continue
        am = a_no * tempa * tempa
        nm = XKE / am**1.5
        em = ecco - tempe
        if em >= 1.0 or em < -0.001:
            _fail(r, v, err, i, j, 1)
            continue
        if em < 1.0e-6:
            em = 1.0e-6
        mm = mm + no * templ
        xlm = mm + argpm + nodem
        nodem = np.fmod(nodem, TWOPI)
        argpm = np.fmod(argpm, TWOPI)
        xlm = np.fmod(xlm, TWOPI)
        mm = np.fmod(xlm - argpm - nodem, TWOPI)
        err[i, j] = _short_periodics(
            r, v, i, j, am, em, inclo, nodem, argpm, mm, nm, aycof, xlcof, con41, x1mth2, x7thm1, sinio, cosio
        )


@njit(cache=True)
def _deep_space_sat(c, i, times, t0, scale, afspc, r, v, err, j0, j1):
    """Propagate deep-space satellite ``i`` to times[j0:j1] (SDP4: lunar-solar periodics, resonances)."""
    fasx2 = 0.13130908
    fasx4 = 2.8843198
    fasx6 = 0.37448087
    g22 = 5.7686396
    g32 = 0.95240898
    g44 = 1.8014998
    g52 = 1.0508330
    g54 = 4.4108898
    rptim = 4.37526908801129966e-3
    stepp = 720.0
    stepn = -720.0
    step2 = 259200.0
    zns = 1.19459e-5
    zes = 0.01675
    znl = 1.5835218e-4
    zel = 0.05490

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
    d2201 = c[C_D2201, i]
    d2211 = c[C_D2211, i]
    d3210 = c[C_D3210, i]
    d3222 = c[C_D3222, i]
    d4410 = c[C_D4410, i]
    d4422 = c[C_D4422, i]
    d5220 = c[C_D5220, i]
    d5232 = c[C_D5232, i]
    d5421 = c[C_D5421, i]
    d5433 = c[C_D5433, i]
    dedt = c[C_DEDT, i]
    didt = c[C_DIDT, i]
    dmdt = c[C_DMDT, i]
    dnodt = c[C_DNODT, i]
    domdt = c[C_DOMDT, i]
    del1 = c[C_DEL1, i]
    del2 = c[C_DEL2, i]
    del3 = c[C_DEL3, i]
    xfact = c[C_XFACT, i]
    xlamo = c[C_XLAMO, i]
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

    # resonance integrator state, as the reference keeps it between calls
    atime = 0.0
    xli = xlamo
    xni = no

    for j in range(j0, j1):
        t = (times[j] - t0) * scale
        xmdf = mo + mdot * t
        argpm = argpo + argpdot * t
        nodem = nodeo + nodedot * t + nodecf * t * t
        mm = xmdf
        tempa = 1.0 - cc1 * t
        tempe = bcc4 * t
        templ = t2cof * t * t

        # --- dspace: secular lunar-solar rates, then the resonance integrator
        em = ecco + dedt * t
        inclm = inclo + didt * t
        argpm = argpm + domdt * t
        nodem = nodem + dnodt * t
        mm = mm + dmdt * t
        nm = no
        if irez != 0:
            theta = np.fmod(gsto + t * rptim, TWOPI)
            if atime == 0.0 or t * atime <= 0.0 or abs(t) < abs(atime):
                atime = 0.0
                xni = no
                xli = xlamo
            delt = stepp if t > 0.0 else stepn
            xndt = 0.0
            xnddt = 0.0
            xldot = 0.0
            ft = 0.0
            while True:
                if irez != 2:
                    xndt = (
                        del1 * math.sin(xli - fasx2)
                        + del2 * math.sin(2.0 * (xli - fasx4))
                        + del3 * math.sin(3.0 * (xli - fasx6))
                    )
                    xldot = xni + xfact
                    xnddt = (
                        del1 * math.cos(xli - fasx2)
                        + 2.0 * del2 * math.cos(2.0 * (xli - fasx4))
                        + 3.0 * del3 * math.cos(3.0 * (xli - fasx6))
                    )
                    xnddt = xnddt * xldot
                else:
                    xomi = argpo + argpdot * atime
                    x2omi = xomi + xomi
                    x2li = xli + xli
                    xndt = (
                        d2201 * math.sin(x2omi + xli - g22)
                        + d2211 * math.sin(xli - g22)
                        + d3210 * math.sin(xomi + xli - g32)
                        + d3222 * math.sin(-xomi + xli - g32)
                        + d4410 * math.sin(x2omi + x2li - g44)
                        + d4422 * math.sin(x2li - g44)
                        + d5220 * math.sin(xomi + xli - g52)
                        + d5232 * math.sin(-xomi + xli - g52)
                        + d5421 * math.sin(xomi + x2li - g54)
                        + d5433 * math.sin(-xomi + x2li - g54)
                    )
                    xldot = xni + xfact
                    xnddt = (
                        d2201 * math.cos(x2omi + xli - g22)
                        + d2211 * math.cos(xli - g22)
                        + d3210 * math.cos(xomi + xli - g32)
                        + d3222 * math.cos(-xomi + xli - g32)
                        + d5220 * math.cos(xomi + xli - g52)
                        + d5232 * math.cos(-xomi + xli - g52)
                        + 2.0
                        * (
                            d4410 * math.cos(x2omi + x2li - g44)
                            + d4422 * math.cos(x2li - g44)
                            + d5421 * math.cos(xomi + x2li - g54)
                            + d5433 * math.cos(-xomi + x2li - g54)
                        )
                    )
                    xnddt = xnddt * xldot
                if abs(t - atime) >= stepp:
                    xli = xli + xldot * delt + xndt * step2
                    xni = xni + xndt * delt + xnddt * step2
                    atime = atime + delt
                else:
                    ft = t - atime
                    break
            nm = xni + xndt * ft + xnddt * ft * ft * 0.5
            xl = xli + xldot * ft + xndt * ft * ft * 0.5
            if irez != 1:
                mm = xl - 2.0 * nodem + 2.0 * theta
            else:
                mm = xl - nodem - argpm + theta
            nm = no + (nm - no)

        if nm <= 0.0:
            _fail(r, v, err, i, j, 2)
            continue
        am = (XKE / nm) ** X2O3 * tempa * tempa
        nm = XKE / am**1.5
        em = em - tempe
        if em >= 1.0 or em < -0.001:
            _fail(r, v, err, i, j, 1)
            continue
        if em < 1.0e-6:
            em = 1.0e-6
        mm = mm + no * templ
        xlm = mm + argpm + nodem
        nodem = np.fmod(nodem, TWOPI)
        argpm = np.fmod(argpm, TWOPI)
        xlm = np.fmod(xlm, TWOPI)
        mm = np.fmod(xlm - argpm - nodem, TWOPI)

        # --- dpper: lunar-solar periodics
        ep = em
        xincp = inclm
        argpp = argpm
        nodep = nodem
        mp = mm
        zm = zmos + zns * t
        zf = zm + 2.0 * zes * math.sin(zm)
        sinzf = math.sin(zf)
        f2 = 0.5 * sinzf * sinzf - 0.25
        f3 = -0.5 * sinzf * math.cos(zf)
        ses = se2 * f2 + se3 * f3
        sis = si2 * f2 + si3 * f3
        sls = sl2 * f2 + sl3 * f3 + sl4 * sinzf
        sghs = sgh2 * f2 + sgh3 * f3 + sgh4 * sinzf
        shs = sh2 * f2 + sh3 * f3
        zm = zmol + znl * t
        zf = zm + 2.0 * zel * math.sin(zm)
        sinzf = math.sin(zf)
        f2 = 0.5 * sinzf * sinzf - 0.25
        f3 = -0.5 * sinzf * math.cos(zf)
        sel = ee2 * f2 + e3 * f3
        sil = xi2 * f2 + xi3 * f3
        sll = xl2 * f2 + xl3 * f3 + xl4 * sinzf
        sghl = xgh2 * f2 + xgh3 * f3 + xgh4 * sinzf
        shll = xh2 * f2 + xh3 * f3
        pe = ses + sel - peo
        pinc = sis + sil - pinco
        pl = sls + sll - plo
        pgh = sghs + sghl - pgho
        ph = shs + shll - pho
        xincp = xincp + pinc
        ep = ep + pe
        sinip = math.sin(xincp)
        cosip = math.cos(xincp)
        if xincp >= 0.2:
            ph = ph / sinip
            pgh = pgh - cosip * ph
            argpp = argpp + pgh
            nodep = nodep + ph
            mp = mp + pl
        else:
            # Lyddane modification for low inclinations
            sinop = math.sin(nodep)
            cosop = math.cos(nodep)
            alfdp = sinip * sinop
            betdp = sinip * cosop
            dalf = ph * cosop + pinc * cosip * sinop
            dbet = -ph * sinop + pinc * cosip * cosop
            alfdp = alfdp + dalf
            betdp = betdp + dbet
            nodep = np.fmod(nodep, TWOPI)
            if nodep < 0.0 and afspc:
                nodep = nodep + TWOPI
            xls = mp + argpp + cosip * nodep
            dls = pl + pgh - pinc * nodep * sinip
            xls = xls + dls
            xnoh = nodep
            nodep = math.atan2(alfdp, betdp)
            if nodep < 0.0 and afspc:
                nodep = nodep + TWOPI
            if abs(xnoh - nodep) > math.pi:
                if nodep < xnoh:
                    nodep = nodep + TWOPI
                else:
                    nodep = nodep - TWOPI
            mp = mp + pl
            argpp = xls - mp - cosip * nodep

        if xincp < 0.0:
            xincp = -xincp
            nodep = nodep + math.pi
            argpp = argpp - math.pi
        if ep < 0.0 or ep > 1.0:
            _fail(r, v, err, i, j, 3)
            continue

        sinip = math.sin(xincp)
        cosip = math.cos(xincp)
        aycof = -0.5 * J3OJ2 * sinip
        if abs(cosip + 1.0) > 1.5e-12:
            xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / (1.0 + cosip)
        else:
            xlcof = -0.25 * J3OJ2 * sinip * (3.0 + 5.0 * cosip) / 1.5e-12
        cosisq = cosip * cosip
        con41 = 3.0 * cosisq - 1.0
        x1mth2 = 1.0 - cosisq
        x7thm1 = 7.0 * cosisq - 1.0
        err[i, j] = _short_periodics(
            r, v, i, j, am, ep, xincp, nodep, argpp, mp, nm, aycof, xlcof, con41, x1mth2, x7thm1, sinip, cosip
        )


@njit(cache=True)
def _near_earth(c, i, times, t0, scale, r, v, err):
    """Near-earth satellite: the vectorised path where it applies, the reference path for the rest."""
    if c[C_NO, i] > 0.0 and c[C_ECCO, i] < FAST_MAX_ECC:
        near_earth_fast(c, i, times, t0, scale, r, v, err)
        for j in range(times.shape[0]):
            if err[i, j] != 0:  # flagged: let the reference path decide (and set the error code)
                _near_earth_sat(c, i, times, t0, scale, r, v, err, j, j + 1)
    else:
        _near_earth_sat(c, i, times, t0, scale, r, v, err, 0, times.shape[0])


@njit(cache=True)
def _deep_space(c, i, times, t0, scale, afspc, r, v, err):
    """Deep-space satellite: the vectorised path where it applies, the reference path for the rest."""
    if c[C_NO, i] > 0.0 and c[C_ECCO, i] < FAST_MAX_ECC:
        deep_space_fast(c, i, times, t0, scale, afspc, r, v, err)
        for j in range(times.shape[0]):
            if err[i, j] != 0:
                _deep_space_sat(c, i, times, t0, scale, afspc, r, v, err, j, j + 1)
    else:
        _deep_space_sat(c, i, times, t0, scale, afspc, r, v, err, 0, times.shape[0])


@njit(parallel=True, fastmath=False, cache=True)
def propagate_ns(c, epoch_ns, times_ns, afspc, r, v, err):
    """All satellites × all times; times and epochs as int64 ns since 1970 (UTC); fills r, v, err."""
    scale = 1.0 / 60.0e9
    for i in prange(epoch_ns.shape[0]):
        if c[C_DEEP, i] != 0.0:
            _deep_space(c, i, times_ns, epoch_ns[i], scale, afspc, r, v, err)
        else:
            _near_earth(c, i, times_ns, epoch_ns[i], scale, r, v, err)


@njit(parallel=True, fastmath=False, cache=True)
def propagate_minutes(c, tsince, afspc, r, v, err):
    """All satellites × the same minutes since each satellite's own epoch; fills r, v, err."""
    for i in prange(c.shape[1]):
        if c[C_DEEP, i] != 0.0:
            _deep_space(c, i, tsince, 0.0, 1.0, afspc, r, v, err)
        else:
            _near_earth(c, i, tsince, 0.0, 1.0, r, v, err)


@njit(parallel=True, fastmath=False, cache=True)
def propagate_minutes_reference(c, tsince, afspc, r, v, err):
    """As :func:`propagate_minutes` but always on the reference-shaped paths (for tests and comparison)."""
    for i in prange(c.shape[1]):
        if c[C_DEEP, i] != 0.0:
            _deep_space_sat(c, i, tsince, 0.0, 1.0, afspc, r, v, err, 0, tsince.shape[0])
        else:
            _near_earth_sat(c, i, tsince, 0.0, 1.0, r, v, err, 0, tsince.shape[0])
