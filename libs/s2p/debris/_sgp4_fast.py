"""Branch-free near-earth SGP4 over the times of one satellite, written so LLVM vectorises it (private).

Why a second near-earth path: the reference-shaped loop (``_sgp4_kernels._near_earth_sat``) calls libm
``sin/cos/atan2/fmod`` ~20 times per evaluation and exits Kepler's iteration early; the llvmlite wheel has
no SVML, so such a loop cannot be vectorised and runs at C++ speed. Here, for near-earth orbits with
e < ``FAST_MAX_ECC``, the same equations are evaluated

* with our own ``sincos`` (Cody–Waite reduction by π/2 in three parts + Taylor polynomials to r^15/r^16,
  error ≤ ~2e-16 for |x| < 1e6 rad, measured in the tests) instead of libm calls;
* with a fixed number of Newton steps for Kepler's equation, chosen per satellite: from E = M the error
  after k steps is ≲ (e/2)^(2^k − 1) e, so e ≤ 0.01 needs 2 steps and e ≤ 0.1 needs 4 for < 1e-15 rad
  (the reference stops when a step is < 1e-12); a time whose eccentricity leaves the class is flagged;
* without ``atan2``: the short-period corrections to the argument of latitude, the node and the
  inclination are small (< 2e-3 rad), so their sines/cosines are applied as rotations of the unperturbed
  sine/cosine pairs;
* without ``fmod``: angles only enter through sin/cos, and Kepler's equation is 2π-periodic;
* errors are flagged branch-free; any time that flags (eccentricity out of range, p < 0, decay) is
  recomputed by the reference-shaped path, which then owns the error code and the NaN outputs.

Agreement with the reference path is ~1e-9 km (tests: ≤ 1 mm against python-sgp4 on the catalogue).
Rejected alternative: ``fastmath=True`` — it lets LLVM reassociate the reference arithmetic and breaks the
bit-for-bit reproducibility of the near-zero cancellations in the drag terms; we get the SIMD without it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba import njit

from s2p import _numba_cache
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
    C_DELMO,
    C_ECCO,
    C_ETA,
    C_ISIMP,
    C_MDOT,
    C_MO,
    C_NO,
    C_NODECF,
    C_NODEDOT,
    C_NODEO,
    C_OMGCOF,
    C_SINIO,
    C_SINMAO,
    C_T2COF,
    C_T3COF,
    C_T4COF,
    C_T5COF,
    C_X1MTH2,
    C_X7THM1,
    C_XLCOF,
    C_XMCOF,
    J2,
    RE,
    X2O3,
    XKE,
)

_numba_cache.drop_stale(__file__, "_sgp4_init.py")

FAST_MAX_ECC = 0.1
LOW_ECC = 0.005  # below this at epoch: 2 Newton steps and a flag limit of 2 * LOW_ECC
KEPLER_STEPS = 5
VKMPERSEC = RE * XKE / 60.0


def _split_half_pi() -> tuple[float, float, float]:
    """π/2 as a sum of three doubles, the first two with 33 significant bits (k·P exact for k < 2^20)."""
    pi = Fraction("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899")
    rest = pi / 2
    parts = []
    for bits in (33, 33, 53):
        x = float(rest)
        m, e = math.frexp(x)
        x = math.ldexp(math.floor(m * 2**bits) / 2**bits, e) if bits < 53 else x
        parts.append(x)
        rest -= Fraction(x)
    return parts[0], parts[1], parts[2]


PIO2_1, PIO2_2, PIO2_3 = _split_half_pi()
TWO_OVER_PI = 2.0 / math.pi
TWOPI = 2.0 * math.pi
# Taylor coefficients (-1)^k / (2k+1)! and (-1)^k / (2k)!
S1, S2, S3, S4, S5, S6, S7 = (float((-1) ** k / Fraction(math.factorial(2 * k + 1))) for k in range(1, 8))
C1, C2, C3, C4, C5, C6, C7, C8 = (float((-1) ** k / Fraction(math.factorial(2 * k))) for k in range(1, 9))


@njit(inline="always", error_model="numpy", cache=True)
def sincos_small(r):
    """(sin r, cos r) for |r| ≤ π/4 — the polynomial core, no reduction."""
    r2 = r * r
    s = r + r * r2 * (S1 + r2 * (S2 + r2 * (S3 + r2 * (S4 + r2 * (S5 + r2 * (S6 + r2 * S7))))))
    c = 1.0 + r2 * (C1 + r2 * (C2 + r2 * (C3 + r2 * (C4 + r2 * (C5 + r2 * (C6 + r2 * (C7 + r2 * C8)))))))
    return s, c


@njit(inline="always", error_model="numpy", cache=True)
def sincos(x):
    """(sin x, cos x) without libm, vectorisable: reduce by multiples of π/2, then select the quadrant."""
    k = math.floor(x * TWO_OVER_PI + 0.5)
    r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3
    s, c = sincos_small(r)
    q = k - 4.0 * math.floor(k * 0.25)  # quadrant 0..3 as a float
    odd = q == 1.0 or q == 3.0
    sx = c if odd else s
    cx = s if odd else c
    if q >= 2.0:
        sx = -sx
    if q == 1.0 or q == 2.0:
        cx = -cx
    return sx, cx


BLOCK = 256  # times per block: scratch arrays stay in L1/L2 between the stages


@njit(error_model="numpy", cache=True)
def near_earth_fast(c, i, times, t0, scale, r, v, err):
    """Near-earth satellite ``i`` at every time; sets err[i, j] = 1 where the reference path must redo it.

    The work is split into stages, each a flat loop over a block of times with scratch arrays between
    them: LLVM only vectorises innermost loops, and Kepler's fixed Newton steps would otherwise be an
    inner loop inside the time loop.
    """
    bstar = c[C_BSTAR, i]
    ecco = c[C_ECCO, i]
    argpo = c[C_ARGPO, i]
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
    eta = c[C_ETA, i]
    delmo = c[C_DELMO, i]
    sinmao = c[C_SINMAO, i]
    aycof = c[C_AYCOF, i]
    xlcof = c[C_XLCOF, i]
    con41 = c[C_CON41, i]
    x1mth2 = c[C_X1MTH2, i]
    x7thm1 = c[C_X7THM1, i]
    sinio = c[C_SINIO, i]
    cosio = c[C_COSIO, i]
    # The simplified-drag model (perigee < 220 km) is the full model with these terms zero: adding 0.0
    # is exact, so one branch-free loop serves both.
    full = c[C_ISIMP, i] == 0.0
    omgcof = c[C_OMGCOF, i] if full else 0.0
    xmcof = c[C_XMCOF, i] if full else 0.0
    bcc5 = bstar * c[C_CC5, i] if full else 0.0
    d2 = c[C_D2, i]
    d3 = c[C_D3, i]
    d4 = c[C_D4, i]
    t3cof = c[C_T3COF, i]
    t4cof = c[C_T4COF, i]
    t5cof = c[C_T5COF, i]
    a_no = (XKE / no) ** X2O3
    k2 = 0.5 * J2
    low = ecco < LOW_ECC
    n_newton = 2 if low else KEPLER_STEPS - 1
    e_limit = 2.0 * LOW_ECC if low else FAST_MAX_ECC

    s_am = np.empty(BLOCK)
    s_nm = np.empty(BLOCK)
    s_axnl = np.empty(BLOCK)
    s_aynl = np.empty(BLOCK)
    s_u = np.empty(BLOCK)
    s_eo1 = np.empty(BLOCK)
    s_node = np.empty(BLOCK)
    s_flag = np.empty(BLOCK, dtype=np.int8)
    out = np.empty((6, BLOCK))

    nt = times.shape[0]
    for j0 in range(0, nt, BLOCK):
        nb = min(BLOCK, nt - j0)
        # --- stage 1: secular and drag terms, mean elements
        for b in range(nb):
            t = (times[j0 + b] - t0) * scale
            xmdf = mo + mdot * t
            t2 = t * t
            t3 = t2 * t
            t4 = t3 * t
            s_node[b] = nodeo + nodedot * t + nodecf * t2
            sxm, cxm = sincos(xmdf)
            delmtemp = 1.0 + eta * cxm
            temp = omgcof * t + xmcof * (delmtemp * delmtemp * delmtemp - delmo)
            mm = xmdf + temp
            argpm = argpo + argpdot * t - temp
            tempa = 1.0 - cc1 * t - d2 * t2 - d3 * t3 - d4 * t4
            smm, cmm = sincos(mm)
            tempe = bcc4 * t + bcc5 * (smm - sinmao)
            templ = t2cof * t2 + t3cof * t3 + t4 * (t4cof + t * t5cof)
            am = a_no * tempa * tempa
            s_am[b] = am
            s_nm[b] = XKE / (am * math.sqrt(am))
            em = ecco - tempe
            s_flag[b] = 1 if (em >= e_limit or em < -0.001) else 0
            em = max(em, 1.0e-6)
            mm = mm + no * templ
            sw, cw = sincos(argpm)
            axnl = em * cw
            temp = 1.0 / (am * (1.0 - em * em))
            s_axnl[b] = axnl
            s_aynl[b] = em * sw + temp * aycof
            u = mm + argpm + temp * xlcof * axnl  # = xl - node (mod 2π)
            u = u - TWOPI * np.floor(u / TWOPI + 0.5)
            s_u[b] = u
            s_eo1[b] = u
        # --- stage 2: Newton for Kepler's equation, fixed steps (clipped at 0.95 rad like the reference)
        for _ in range(n_newton):
            for b in range(nb):
                eo1 = s_eo1[b]
                axnl = s_axnl[b]
                aynl = s_aynl[b]
                se, ce = sincos(eo1)
                tem5 = (s_u[b] - aynl * ce + axnl * se - eo1) / (1.0 - ce * axnl - se * aynl)
                s_eo1[b] = eo1 + min(max(tem5, -0.95), 0.95)
        # --- stage 3: short-period terms and the TEME vectors
        for b in range(nb):
            am = s_am[b]
            nm = s_nm[b]
            axnl = s_axnl[b]
            aynl = s_aynl[b]
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
            norm = 1.0 / math.sqrt(sinu * sinu + cosu * cosu)  # atan2 ignores the length; so do we
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
            # small short-period corrections applied as rotations of the unperturbed pairs
            sd, cd = sincos_small(-0.25 * temp2 * x7thm1 * sin2u)
            sinsu = sinu * cd + cosu * sd
            cossu = cosu * cd - sinu * sd
            sn0, cn0 = sincos(s_node[b])
            sd, cd = sincos_small(1.5 * temp2 * cosio * sin2u)
            snod = sn0 * cd + cn0 * sd
            cnod = cn0 * cd - sn0 * sd
            sd, cd = sincos_small(1.5 * temp2 * cosio * sinio * cos2u)
            sini = sinio * cd + cosio * sd
            cosi = cosio * cd - sinio * sd
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
        # --- stage 4: interleave into the (N, T, 3) outputs
        for b in range(nb):
            j = j0 + b
            r[i, j, 0] = out[0, b]
            r[i, j, 1] = out[1, b]
            r[i, j, 2] = out[2, b]
            v[i, j, 0] = out[3, b]
            v[i, j, 1] = out[4, b]
            v[i, j, 2] = out[5, b]
            err[i, j] = s_flag[b]
