"""SGP4/SDP4 initialisation kernel (private): per-satellite derived constants, structure-of-arrays.

Follows Vallado, Crawford, Hujsak & Kelso (2006), "Revisiting Spacetrack Report #3", AIAA 2006-6753:
``initl`` (un-Kozai mean motion, GMST at epoch), the secular/drag coefficients of ``sgp4init``, and for
deep-space orbits (period ≥ 225 min) ``dscom`` (lunar-solar geometry) and ``dsinit`` (secular rates and
the 12 h / 24 h resonance coefficients). WGS72 gravity constants, as the reference code and TLEs use.

The output is one ``float64`` array ``c[K, N]``: row ``k`` (named by the ``C_*`` constants below) holds
one derived constant for every satellite. No validation here: the public layer (``propagation.py``)
checks and converts the inputs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --- WGS72 (the constants TLEs are fitted with) ------------------------------------------------------
MU = 398600.8  # km^3/s^2
RE = 6378.135  # km
XKE = 60.0 / math.sqrt(RE * RE * RE / MU)  # sqrt(mu) in Earth radii^1.5 per minute
TUMIN = 1.0 / XKE
J2 = 0.001082616
J3 = -0.00000253881
J4 = -0.00000165597
J3OJ2 = J3 / J2
TWOPI = 2.0 * math.pi
X2O3 = 2.0 / 3.0

# --- rows of the constants array ---------------------------------------------------------------------
_NAMES = (  # noqa: SIM905 (one word per row, grouped by role, reads better than a 90-line list)
    # elements and near-earth secular / drag terms
    "bstar ecco argpo inclo mo no nodeo mdot argpdot nodedot nodecf cc1 cc4 cc5 t2cof omgcof xmcof "
    "eta delmo sinmao d2 d3 d4 t3cof t4cof t5cof isimp aycof xlcof con41 x1mth2 x7thm1 sinio cosio "
    "deep gsto "
    # deep space: secular rates and resonance
    "irez d2201 d2211 d3210 d3222 d4410 d4422 d5220 d5232 d5421 d5433 dedt didt dmdt dnodt domdt "
    "del1 del2 del3 xfact xlamo "
    # deep space: lunar-solar periodics
    "e3 ee2 peo pgho pho pinco plo se2 se3 sgh2 sgh3 sgh4 sh2 sh3 si2 si3 sl2 sl3 sl4 "
    "xgh2 xgh3 xgh4 xh2 xh3 xi2 xi3 xl2 xl3 xl4 zmol zmos"
).split()
ROW = {name: k for k, name in enumerate(_NAMES)}
K = len(_NAMES)
# Module-level integer constants are frozen into the compiled kernels by numba.
(C_BSTAR, C_ECCO, C_ARGPO, C_INCLO, C_MO, C_NO, C_NODEO, C_MDOT, C_ARGPDOT, C_NODEDOT, C_NODECF, C_CC1,
 C_CC4, C_CC5, C_T2COF, C_OMGCOF, C_XMCOF, C_ETA, C_DELMO, C_SINMAO, C_D2, C_D3, C_D4, C_T3COF, C_T4COF,
 C_T5COF, C_ISIMP, C_AYCOF, C_XLCOF, C_CON41, C_X1MTH2, C_X7THM1, C_SINIO, C_COSIO, C_DEEP, C_GSTO,
 C_IREZ, C_D2201, C_D2211, C_D3210, C_D3222, C_D4410, C_D4422, C_D5220, C_D5232, C_D5421, C_D5433,
 C_DEDT, C_DIDT, C_DMDT, C_DNODT, C_DOMDT, C_DEL1, C_DEL2, C_DEL3, C_XFACT, C_XLAMO,
 C_E3, C_EE2, C_PEO, C_PGHO, C_PHO, C_PINCO, C_PLO, C_SE2, C_SE3, C_SGH2, C_SGH3, C_SGH4, C_SH2, C_SH3,
 C_SI2, C_SI3, C_SL2, C_SL3, C_SL4, C_XGH2, C_XGH3, C_XGH4, C_XH2, C_XH3, C_XI2, C_XI3, C_XL2, C_XL3,
 C_XL4, C_ZMOL, C_ZMOS) = range(K)  # fmt: skip


@njit(cache=True)
def gstime(jdut1: float) -> float:
    """Greenwich mean sidereal time, IAU-82 [rad], from a UT1 Julian date."""
    tut1 = (jdut1 - 2451545.0) / 36525.0
    temp = (
        -6.2e-6 * tut1 * tut1 * tut1
        + 0.093104 * tut1 * tut1
        + (876600.0 * 3600.0 + 8640184.812866) * tut1
        + 67310.54841
    )  # seconds of time
    temp = np.fmod(temp * (math.pi / 180.0) / 240.0, TWOPI)
    if temp < 0.0:
        temp += TWOPI
    return temp


@njit(cache=True)
def _dscom(c, i, epoch, ep, argpp, inclp, nodep, np_):
    """Lunar and solar terms at epoch (Vallado's ``dscom``, with tc = 0). Returns what dsinit needs."""
    zes = 0.01675
    zel = 0.05490
    c1ss = 2.9864797e-6
    c1l = 4.7968065e-7
    zsinis = 0.39785416
    zcosis = 0.91744867
    zcosgs = 0.1945905
    zsings = -0.98088458

    nm = np_
    em = ep
    snodm = math.sin(nodep)
    cnodm = math.cos(nodep)
    sinomm = math.sin(argpp)
    cosomm = math.cos(argpp)
    sinim = math.sin(inclp)
    cosim = math.cos(inclp)
    emsq = em * em
    betasq = 1.0 - emsq
    rtemsq = math.sqrt(betasq)

    day = epoch + 18261.5  # days since 1900 Jan 0.5
    xnodce = np.fmod(4.5236020 - 9.2422029e-4 * day, TWOPI)
    stem = math.sin(xnodce)
    ctem = math.cos(xnodce)
    zcosil = 0.91375164 - 0.03568096 * ctem
    zsinil = math.sqrt(1.0 - zcosil * zcosil)
    zsinhl = 0.089683511 * stem / zsinil
    zcoshl = math.sqrt(1.0 - zsinhl * zsinhl)
    gam = 5.8351514 + 0.0019443680 * day
    zx = 0.39785416 * stem / zsinil
    zy = zcoshl * ctem + 0.91744867 * zsinhl * stem
    zx = math.atan2(zx, zy)
    zx = gam + zx - xnodce
    zcosgl = math.cos(zx)
    zsingl = math.sin(zx)

    # pass 1: sun, pass 2: moon
    zcosg = zcosgs
    zsing = zsings
    zcosi = zcosis
    zsini = zsinis
    zcosh = cnodm
    zsinh = snodm
    cc = c1ss
    xnoi = 1.0 / nm
    ss1 = ss2 = ss3 = ss4 = ss5 = ss6 = ss7 = 0.0
    sz1 = sz2 = sz3 = sz11 = sz12 = sz13 = sz21 = sz22 = sz23 = sz31 = sz32 = sz33 = 0.0
    s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    z1 = z2 = z3 = z11 = z12 = z13 = z21 = z22 = z23 = z31 = z32 = z33 = 0.0
    for lsflg in range(2):
        a1 = zcosg * zcosh + zsing * zcosi * zsinh
        a3 = -zsing * zcosh + zcosg * zcosi * zsinh
        a7 = -zcosg * zsinh + zsing * zcosi * zcosh
        a8 = zsing * zsini
        a9 = zsing * zsinh + zcosg * zcosi * zcosh
        a10 = zcosg * zsini
        a2 = cosim * a7 + sinim * a8
        a4 = cosim * a9 + sinim * a10
        a5 = -sinim * a7 + cosim * a8
        a6 = -sinim * a9 + cosim * a10

        x1 = a1 * cosomm + a2 * sinomm
        x2 = a3 * cosomm + a4 * sinomm
        x3 = -a1 * sinomm + a2 * cosomm
        x4 = -a3 * sinomm + a4 * cosomm
        x5 = a5 * sinomm
        x6 = a6 * sinomm
        x7 = a5 * cosomm
        x8 = a6 * cosomm

        z31 = 12.0 * x1 * x1 - 3.0 * x3 * x3
        z32 = 24.0 * x1 * x2 - 6.0 * x3 * x4
        z33 = 12.0 * x2 * x2 - 3.0 * x4 * x4
        z1 = 3.0 * (a1 * a1 + a2 * a2) + z31 * emsq
        z2 = 6.0 * (a1 * a3 + a2 * a4) + z32 * emsq
        z3 = 3.0 * (a3 * a3 + a4 * a4) + z33 * emsq
        z11 = -6.0 * a1 * a5 + emsq * (-24.0 * x1 * x7 - 6.0 * x3 * x5)
        z12 = -6.0 * (a1 * a6 + a3 * a5) + emsq * (-24.0 * (x2 * x7 + x1 * x8) - 6.0 * (x3 * x6 + x4 * x5))
        z13 = -6.0 * a3 * a6 + emsq * (-24.0 * x2 * x8 - 6.0 * x4 * x6)
        z21 = 6.0 * a2 * a5 + emsq * (24.0 * x1 * x5 - 6.0 * x3 * x7)
        z22 = 6.0 * (a4 * a5 + a2 * a6) + emsq * (24.0 * (x2 * x5 + x1 * x6) - 6.0 * (x4 * x7 + x3 * x8))
        z23 = 6.0 * a4 * a6 + emsq * (24.0 * x2 * x6 - 6.0 * x4 * x8)
        z1 = z1 + z1 + betasq * z31
        z2 = z2 + z2 + betasq * z32
        z3 = z3 + z3 + betasq * z33
        s3 = cc * xnoi
        s2 = -0.5 * s3 / rtemsq
        s4 = s3 * rtemsq
        s1 = -15.0 * em * s4
        s5 = x1 * x3 + x2 * x4
        s6 = x2 * x3 + x1 * x4
        s7 = x2 * x4 - x1 * x3

        if lsflg == 0:
            ss1, ss2, ss3, ss4, ss5, ss6, ss7 = s1, s2, s3, s4, s5, s6, s7
            sz1, sz2, sz3 = z1, z2, z3
            sz11, sz12, sz13 = z11, z12, z13
            sz21, sz22, sz23 = z21, z22, z23
            sz31, sz32, sz33 = z31, z32, z33
            zcosg = zcosgl
            zsing = zsingl
            zcosi = zcosil
            zsini = zsinil
            zcosh = zcoshl * cnodm + zsinhl * snodm
            zsinh = snodm * zcoshl - cnodm * zsinhl
            cc = c1l

    c[C_ZMOL, i] = np.fmod(4.7199672 + 0.22997150 * day - gam, TWOPI)
    c[C_ZMOS, i] = np.fmod(6.2565837 + 0.017201977 * day, TWOPI)

    # solar periodic coefficients
    c[C_SE2, i] = 2.0 * ss1 * ss6
    c[C_SE3, i] = 2.0 * ss1 * ss7
    c[C_SI2, i] = 2.0 * ss2 * sz12
    c[C_SI3, i] = 2.0 * ss2 * (sz13 - sz11)
    c[C_SL2, i] = -2.0 * ss3 * sz2
    c[C_SL3, i] = -2.0 * ss3 * (sz3 - sz1)
    c[C_SL4, i] = -2.0 * ss3 * (-21.0 - 9.0 * emsq) * zes
    c[C_SGH2, i] = 2.0 * ss4 * sz32
    c[C_SGH3, i] = 2.0 * ss4 * (sz33 - sz31)
    c[C_SGH4, i] = -18.0 * ss4 * zes
    c[C_SH2, i] = -2.0 * ss2 * sz22
    c[C_SH3, i] = -2.0 * ss2 * (sz23 - sz21)
    # lunar periodic coefficients
    c[C_EE2, i] = 2.0 * s1 * s6
    c[C_E3, i] = 2.0 * s1 * s7
    c[C_XI2, i] = 2.0 * s2 * z12
    c[C_XI3, i] = 2.0 * s2 * (z13 - z11)
    c[C_XL2, i] = -2.0 * s3 * z2
    c[C_XL3, i] = -2.0 * s3 * (z3 - z1)
    c[C_XL4, i] = -2.0 * s3 * (-21.0 - 9.0 * emsq) * zel
    c[C_XGH2, i] = 2.0 * s4 * z32
    c[C_XGH3, i] = 2.0 * s4 * (z33 - z31)
    c[C_XGH4, i] = -18.0 * s4 * zel
    c[C_XH2, i] = -2.0 * s2 * z22
    c[C_XH3, i] = -2.0 * s2 * (z23 - z21)
    # The reference subtracts the periodics "at epoch" (peo ... pho) but leaves them zero; so do we.
    c[C_PEO, i] = 0.0
    c[C_PINCO, i] = 0.0
    c[C_PLO, i] = 0.0
    c[C_PGHO, i] = 0.0
    c[C_PHO, i] = 0.0
    return (
        sinim, cosim, emsq, em, nm,
        s1, s2, s3, s4, s5, ss1, ss2, ss3, ss4, ss5,
        sz1, sz3, sz11, sz13, sz21, sz23, sz31, sz33,
        z1, z3, z11, z13, z21, z23, z31, z33,
    )  # fmt: skip


@njit(cache=True)
def _dsinit(c, i, cosim, sinim, emsq, em, nm, s1, s2, s3, s4, s5, ss1, ss2, ss3, ss4, ss5,
            sz1, sz3, sz11, sz13, sz21, sz23, sz31, sz33, z1, z3, z11, z13, z21, z23, z31, z33,
            eccsq, xpidot):  # fmt: skip
    """Deep-space secular rates and resonance coefficients (Vallado's ``dsinit`` at t = 0)."""
    q22 = 1.7891679e-6
    q31 = 2.1460748e-6
    q33 = 2.2123015e-7
    root22 = 1.7891679e-6
    root44 = 7.3636953e-9
    root54 = 2.1765803e-9
    rptim = 4.37526908801129966e-3  # Earth rotation [rad/min]
    root32 = 3.7393792e-7
    root52 = 1.1428639e-7
    znl = 1.5835218e-4
    zns = 1.19459e-5

    ecco = c[C_ECCO, i]
    inclm = c[C_INCLO, i]
    argpo = c[C_ARGPO, i]
    mo = c[C_MO, i]
    nodeo = c[C_NODEO, i]
    no = c[C_NO, i]
    mdot = c[C_MDOT, i]
    nodedot = c[C_NODEDOT, i]
    gsto = c[C_GSTO, i]

    irez = 0
    if 0.0034906585 < nm < 0.0052359877:
        irez = 1  # 24 h (geosynchronous) resonance
    if 8.26e-3 <= nm <= 9.24e-3 and em >= 0.5:
        irez = 2  # 12 h (Molniya) resonance

    # solar secular terms
    ses = ss1 * zns * ss5
    sis = ss2 * zns * (sz11 + sz13)
    sls = -zns * ss3 * (sz1 + sz3 - 14.0 - 6.0 * emsq)
    sghs = ss4 * zns * (sz31 + sz33 - 6.0)
    shs = -zns * ss2 * (sz21 + sz23)
    if inclm < 5.2359877e-2 or inclm > math.pi - 5.2359877e-2:
        shs = 0.0
    if sinim != 0.0:
        shs = shs / sinim
    sgs = sghs - cosim * shs

    # lunar secular terms
    dedt = ses + s1 * znl * s5
    didt = sis + s2 * znl * (z11 + z13)
    dmdt = sls - znl * s3 * (z1 + z3 - 14.0 - 6.0 * emsq)
    sghl = s4 * znl * (z31 + z33 - 6.0)
    shll = -znl * s2 * (z21 + z23)
    if inclm < 5.2359877e-2 or inclm > math.pi - 5.2359877e-2:
        shll = 0.0
    domdt = sgs + sghl
    dnodt = shs
    if sinim != 0.0:
        domdt = domdt - cosim / sinim * shll
        dnodt = dnodt + shll / sinim

    c[C_DEDT, i] = dedt
    c[C_DIDT, i] = didt
    c[C_DMDT, i] = dmdt
    c[C_DNODT, i] = dnodt
    c[C_DOMDT, i] = domdt
    c[C_IREZ, i] = irez

    theta = np.fmod(gsto, TWOPI)  # tc = 0
    if irez != 0:
        aonv = (nm / XKE) ** X2O3
        if irez == 2:
            cosisq = cosim * cosim
            em = ecco
            emsq = eccsq
            eoc = em * emsq
            g201 = -0.306 - (em - 0.64) * 0.440
            if em <= 0.65:
                g211 = 3.616 - 13.2470 * em + 16.2900 * emsq
                g310 = -19.302 + 117.3900 * em - 228.4190 * emsq + 156.5910 * eoc
                g322 = -18.9068 + 109.7927 * em - 214.6334 * emsq + 146.5816 * eoc
                g410 = -41.122 + 242.6940 * em - 471.0940 * emsq + 313.9530 * eoc
                g422 = -146.407 + 841.8800 * em - 1629.014 * emsq + 1083.4350 * eoc
                g520 = -532.114 + 3017.977 * em - 5740.032 * emsq + 3708.2760 * eoc
            else:
                g211 = -72.099 + 331.819 * em - 508.738 * emsq + 266.724 * eoc
                g310 = -346.844 + 1582.851 * em - 2415.925 * emsq + 1246.113 * eoc
                g322 = -342.585 + 1554.908 * em - 2366.899 * emsq + 1215.972 * eoc
                g410 = -1052.797 + 4758.686 * em - 7193.992 * emsq + 3651.957 * eoc
                g422 = -3581.690 + 16178.110 * em - 24462.770 * emsq + 12422.520 * eoc
                if em > 0.715:
                    g520 = -5149.66 + 29936.92 * em - 54087.36 * emsq + 31324.56 * eoc
                else:
                    g520 = 1464.74 - 4664.75 * em + 3763.64 * emsq
            if em < 0.7:
                g533 = -919.22770 + 4988.6100 * em - 9064.7700 * emsq + 5542.21 * eoc
                g521 = -822.71072 + 4568.6173 * em - 8491.4146 * emsq + 5337.524 * eoc
                g532 = -853.66600 + 4690.2500 * em - 8624.7700 * emsq + 5341.4 * eoc
            else:
                g533 = -37995.780 + 161616.52 * em - 229838.20 * emsq + 109377.94 * eoc
                g521 = -51752.104 + 218913.95 * em - 309468.16 * emsq + 146349.42 * eoc
                g532 = -40023.880 + 170470.89 * em - 242699.48 * emsq + 115605.82 * eoc
            sini2 = sinim * sinim
            f220 = 0.75 * (1.0 + 2.0 * cosim + cosisq)
            f221 = 1.5 * sini2
            f321 = 1.875 * sinim * (1.0 - 2.0 * cosim - 3.0 * cosisq)
            f322 = -1.875 * sinim * (1.0 + 2.0 * cosim - 3.0 * cosisq)
            f441 = 35.0 * sini2 * f220
            f442 = 39.3750 * sini2 * sini2
            f522 = (
                9.84375
                * sinim
                * (
                    sini2 * (1.0 - 2.0 * cosim - 5.0 * cosisq)
                    + 0.33333333 * (-2.0 + 4.0 * cosim + 6.0 * cosisq)
                )
            )
            f523 = sinim * (
                4.92187512 * sini2 * (-2.0 - 4.0 * cosim + 10.0 * cosisq)
                + 6.56250012 * (1.0 + 2.0 * cosim - 3.0 * cosisq)
            )
            f542 = 29.53125 * sinim * (2.0 - 8.0 * cosim + cosisq * (-12.0 + 8.0 * cosim + 10.0 * cosisq))
            f543 = 29.53125 * sinim * (-2.0 - 8.0 * cosim + cosisq * (12.0 + 8.0 * cosim - 10.0 * cosisq))
            xno2 = nm * nm
            ainv2 = aonv * aonv
            temp1 = 3.0 * xno2 * ainv2
            temp = temp1 * root22
            c[C_D2201, i] = temp * f220 * g201
            c[C_D2211, i] = temp * f221 * g211
            temp1 = temp1 * aonv
            temp = temp1 * root32
            c[C_D3210, i] = temp * f321 * g310
            c[C_D3222, i] = temp * f322 * g322
            temp1 = temp1 * aonv
            temp = 2.0 * temp1 * root44
            c[C_D4410, i] = temp * f441 * g410
            c[C_D4422, i] = temp * f442 * g422
            temp1 = temp1 * aonv
            temp = temp1 * root52
            c[C_D5220, i] = temp * f522 * g520
            c[C_D5232, i] = temp * f523 * g532
            temp = 2.0 * temp1 * root54
            c[C_D5421, i] = temp * f542 * g521
            c[C_D5433, i] = temp * f543 * g533
            c[C_XLAMO, i] = np.fmod(mo + nodeo + nodeo - theta - theta, TWOPI)
            c[C_XFACT, i] = mdot + dmdt + 2.0 * (nodedot + dnodt - rptim) - no
        else:
            g200 = 1.0 + emsq * (-2.5 + 0.8125 * emsq)
            g310 = 1.0 + 2.0 * emsq
            g300 = 1.0 + emsq * (-6.0 + 6.60937 * emsq)
            f220 = 0.75 * (1.0 + cosim) * (1.0 + cosim)
            f311 = 0.9375 * sinim * sinim * (1.0 + 3.0 * cosim) - 0.75 * (1.0 + cosim)
            f330 = 1.0 + cosim
            f330 = 1.875 * f330 * f330 * f330
            del1 = 3.0 * nm * nm * aonv * aonv
            c[C_DEL2, i] = 2.0 * del1 * f220 * g200 * q22
            c[C_DEL3, i] = 3.0 * del1 * f330 * g300 * q33 * aonv
            c[C_DEL1, i] = del1 * f311 * g310 * q31 * aonv
            c[C_XLAMO, i] = np.fmod(mo + nodeo + argpo - theta, TWOPI)
            c[C_XFACT, i] = mdot + xpidot - rptim + dmdt + domdt + dnodt - no


@njit(cache=True)
def sgp4_init(epoch, bstar, ecco, argpo, inclo, mo, no_kozai, nodeo, afspc):
    """Derived constants for every satellite (Vallado's ``sgp4init`` without the final propagation).

    Parameters are 1-D arrays: epoch [days since 1949 Dec 31 00:00 UT], bstar [1/Earth radii], ecco,
    angles [rad], no_kozai [rad/min]; ``afspc`` selects the AFSPC ('a') instead of the improved ('i')
    operation mode. Returns ``c[K, N]``.
    """
    n = epoch.shape[0]
    c = np.zeros((K, n))
    temp4 = 1.5e-12
    ss = 78.0 / RE + 1.0
    qzms2t = ((120.0 - 78.0) / RE) ** 4
    for i in range(n):
        c[C_BSTAR, i] = bstar[i]
        c[C_ECCO, i] = ecco[i]
        c[C_ARGPO, i] = argpo[i]
        c[C_INCLO, i] = inclo[i]
        c[C_MO, i] = mo[i]
        c[C_NODEO, i] = nodeo[i]
        e0 = ecco[i]
        # --- initl: recover the original (un-Kozai) mean motion and semi-major axis
        eccsq = e0 * e0
        omeosq = 1.0 - eccsq
        rteosq = math.sqrt(omeosq)
        cosio = math.cos(inclo[i])
        cosio2 = cosio * cosio
        ak = (XKE / no_kozai[i]) ** X2O3
        d1 = 0.75 * J2 * (3.0 * cosio2 - 1.0) / (rteosq * omeosq)
        dl = d1 / (ak * ak)
        adel = ak * (1.0 - dl * dl - dl * (1.0 / 3.0 + 134.0 * dl * dl / 81.0))
        dl = d1 / (adel * adel)
        no = no_kozai[i] / (1.0 + dl)
        ao = (XKE / no) ** X2O3
        sinio = math.sin(inclo[i])
        po = ao * omeosq
        con42 = 1.0 - 5.0 * cosio2
        con41 = -con42 - cosio2 - cosio2
        posq = po * po
        rp = ao * (1.0 - e0)
        if afspc:
            ts70 = epoch[i] - 7305.0
            ds70 = math.floor(ts70 + 1.0e-8)
            tfrac = ts70 - ds70
            c1 = 1.72027916940703639e-2
            thgr70 = 1.7321343856509374
            fk5r = 5.07551419432269442e-15
            gsto = np.fmod(thgr70 + c1 * ds70 + (c1 + TWOPI) * tfrac + ts70 * ts70 * fk5r, TWOPI)
            if gsto < 0.0:
                gsto += TWOPI
        else:
            gsto = gstime(epoch[i] + 2433281.5)
        c[C_NO, i] = no
        c[C_GSTO, i] = gsto
        c[C_SINIO, i] = sinio
        c[C_COSIO, i] = cosio
        c[C_CON41, i] = con41

        if omeosq >= 0.0 or no >= 0.0:
            isimp = 0
            if rp < 220.0 / RE + 1.0:
                isimp = 1  # perigee below 220 km: simplified drag
            sfour = ss
            qzms24 = qzms2t
            perige = (rp - 1.0) * RE
            if perige < 156.0:
                sfour = perige - 78.0
                if perige < 98.0:
                    sfour = 20.0
                qzms24 = ((120.0 - sfour) / RE) ** 4
                sfour = sfour / RE + 1.0
            pinvsq = 1.0 / posq
            tsi = 1.0 / (ao - sfour)
            eta = ao * e0 * tsi
            etasq = eta * eta
            eeta = e0 * eta
            psisq = abs(1.0 - etasq)
            coef = qzms24 * tsi**4
            coef1 = coef / psisq**3.5
            cc2 = (
                coef1
                * no
                * (
                    ao * (1.0 + 1.5 * etasq + eeta * (4.0 + etasq))
                    + 0.375 * J2 * tsi / psisq * con41 * (8.0 + 3.0 * etasq * (8.0 + etasq))
                )
            )
            cc1 = bstar[i] * cc2
            cc3 = 0.0
            if e0 > 1.0e-4:
                cc3 = -2.0 * coef * tsi * J3OJ2 * no * sinio / e0
            x1mth2 = 1.0 - cosio2
            cc4 = (
                2.0
                * no
                * coef1
                * ao
                * omeosq
                * (
                    eta * (2.0 + 0.5 * etasq)
                    + e0 * (0.5 + 2.0 * etasq)
                    - J2
                    * tsi
                    / (ao * psisq)
                    * (
                        -3.0 * con41 * (1.0 - 2.0 * eeta + etasq * (1.5 - 0.5 * eeta))
                        + 0.75 * x1mth2 * (2.0 * etasq - eeta * (1.0 + etasq)) * math.cos(2.0 * argpo[i])
                    )
                )
            )
            cc5 = 2.0 * coef1 * ao * omeosq * (1.0 + 2.75 * (etasq + eeta) + eeta * etasq)
            cosio4 = cosio2 * cosio2
            temp1 = 1.5 * J2 * pinvsq * no
            temp2 = 0.5 * temp1 * J2 * pinvsq
            temp3 = -0.46875 * J4 * pinvsq * pinvsq * no
            mdot = (
                no
                + 0.5 * temp1 * rteosq * con41
                + 0.0625 * temp2 * rteosq * (13.0 - 78.0 * cosio2 + 137.0 * cosio4)
            )
            argpdot = (
                -0.5 * temp1 * con42
                + 0.0625 * temp2 * (7.0 - 114.0 * cosio2 + 395.0 * cosio4)
                + temp3 * (3.0 - 36.0 * cosio2 + 49.0 * cosio4)
            )
            xhdot1 = -temp1 * cosio
            nodedot = (
                xhdot1 + (0.5 * temp2 * (4.0 - 19.0 * cosio2) + 2.0 * temp3 * (3.0 - 7.0 * cosio2)) * cosio
            )
            xpidot = argpdot + nodedot
            c[C_OMGCOF, i] = bstar[i] * cc3 * math.cos(argpo[i])
            if e0 > 1.0e-4:
                c[C_XMCOF, i] = -X2O3 * coef * bstar[i] / eeta
            c[C_NODECF, i] = 3.5 * omeosq * xhdot1 * cc1
            c[C_T2COF, i] = 1.5 * cc1
            if abs(cosio + 1.0) > 1.5e-12:
                c[C_XLCOF, i] = -0.25 * J3OJ2 * sinio * (3.0 + 5.0 * cosio) / (1.0 + cosio)
            else:
                c[C_XLCOF, i] = -0.25 * J3OJ2 * sinio * (3.0 + 5.0 * cosio) / temp4
            c[C_AYCOF, i] = -0.5 * J3OJ2 * sinio
            delmotemp = 1.0 + eta * math.cos(mo[i])
            c[C_DELMO, i] = delmotemp * delmotemp * delmotemp
            c[C_SINMAO, i] = math.sin(mo[i])
            c[C_X7THM1, i] = 7.0 * cosio2 - 1.0
            c[C_X1MTH2, i] = x1mth2
            c[C_CC1, i] = cc1
            c[C_CC4, i] = cc4
            c[C_CC5, i] = cc5
            c[C_ETA, i] = eta
            c[C_MDOT, i] = mdot
            c[C_ARGPDOT, i] = argpdot
            c[C_NODEDOT, i] = nodedot

            if TWOPI / no >= 225.0:
                # deep space (SDP4): lunar-solar terms and resonances
                c[C_DEEP, i] = 1.0
                isimp = 1
                (sinim, cosim, emsq, em, nm, s1, s2, s3, s4, s5, ss1, ss2, ss3, ss4, ss5,
                 sz1, sz3, sz11, sz13, sz21, sz23, sz31, sz33,
                 z1, z3, z11, z13, z21, z23, z31, z33) = _dscom(
                    c, i, epoch[i], e0, argpo[i], inclo[i], nodeo[i], no
                )  # fmt: skip
                _dsinit(c, i, cosim, sinim, emsq, em, nm, s1, s2, s3, s4, s5, ss1, ss2, ss3, ss4, ss5,
                        sz1, sz3, sz11, sz13, sz21, sz23, sz31, sz33, z1, z3, z11, z13, z21, z23, z31, z33,
                        eccsq, xpidot)  # fmt: skip

            if isimp != 1:
                cc1sq = cc1 * cc1
                d2 = 4.0 * ao * tsi * cc1sq
                temp = d2 * tsi * cc1 / 3.0
                d3 = (17.0 * ao + sfour) * temp
                d4 = 0.5 * temp * ao * tsi * (221.0 * ao + 31.0 * sfour) * cc1
                c[C_D2, i] = d2
                c[C_D3, i] = d3
                c[C_D4, i] = d4
                c[C_T3COF, i] = d2 + 2.0 * cc1sq
                c[C_T4COF, i] = 0.25 * (3.0 * d3 + cc1 * (12.0 * d2 + 10.0 * cc1sq))
                c[C_T5COF, i] = 0.2 * (
                    3.0 * d4 + 12.0 * cc1 * d3 + 6.0 * d2 * d2 + 15.0 * cc1sq * (2.0 * d2 + cc1sq)
                )
            c[C_ISIMP, i] = isimp
    return c
