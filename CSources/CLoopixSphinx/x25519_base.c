/* X25519_BASE(k): the public key of a scalar, for every backend. libsodium's
 * own crypto_scalarmult_base runs a whole Montgomery ladder on some builds
 * (the AVX one among them); its fixed-base Ed25519 multiplication uses a
 * precomputed table and is about twice as fast. The Edwards point k*B
 * (y, and the sign of x) maps to the Montgomery u of k*9 as
 * u = (1 + y) / (1 - y) mod p, p = 2^255 - 19 (RFC 7748 section 4.1).
 *
 * Only the scalar is secret: y and u are public (u is what goes on the
 * wire), so the map is computed on public values. It is written here with
 * the few field operations it needs, in 5 limbs of 51 bits, and runs in
 * constant time all the same. Tests compare it with crypto_scalarmult_base. */
#include "lsx_internal.h"

#define LSXI_FE_LIMBS 5
#define LSXI_FE_LIMB_BITS 51
#define LSXI_FE_MASK ((UINT64_C(1) << LSXI_FE_LIMB_BITS) - 1)
/* 2^255 = 19 mod p: what a carry out of the top limb is worth at the bottom. */
#define LSXI_FE_FOLD 19
/* p's limbs: 2^51 - 19, then 2^51 - 1 four times. */
#define LSXI_FE_P_LOW (LSXI_FE_MASK + 1 - LSXI_FE_FOLD)
#define LSXI_FE_P_HIGH LSXI_FE_MASK
#define LSXI_FE_WORDS 4 /* 64-bit words in 32 bytes */
#define LSXI_ED25519_SIGN_BIT 0x80 /* the sign of x, in the top bit of a compressed Edwards point */

_Static_assert(crypto_scalarmult_ed25519_BYTES == LSXI_POINT_BYTES &&
                   crypto_scalarmult_ed25519_SCALARBYTES == LSXI_SCALAR_BYTES,
               "an Ed25519 point and scalar have X25519's sizes");

/* An element of GF(2^255 - 19): value = sum of v[i] * 2^(51 i). Limbs are
 * kept below 2^52 between operations. */
typedef struct fe {
    uint64_t v[LSXI_FE_LIMBS];
} fe;

typedef unsigned __int128 fe_wide;

static uint64_t load_le64(const uint8_t *in) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | in[i];
    return x;
}

static void store_le64(uint8_t *out, uint64_t x) {
    for (int i = 0; i < 8; i++, x >>= 8) out[i] = (uint8_t)x;
}

/* Bits 0..254 of 32 little-endian bytes (bit 255 is dropped). */
static void fe_from_bytes(fe *h, const uint8_t in[LSXI_POINT_BYTES]) {
    uint64_t w[LSXI_FE_WORDS];
    for (int i = 0; i < LSXI_FE_WORDS; i++) w[i] = load_le64(in + 8 * i);
    h->v[0] = w[0] & LSXI_FE_MASK;
    h->v[1] = ((w[0] >> 51) | (w[1] << 13)) & LSXI_FE_MASK;
    h->v[2] = ((w[1] >> 38) | (w[2] << 26)) & LSXI_FE_MASK;
    h->v[3] = ((w[2] >> 25) | (w[3] << 39)) & LSXI_FE_MASK;
    h->v[4] = (w[3] >> 12) & LSXI_FE_MASK;
}

/* Brings every limb below 2^51 (but the second, which may end one above). */
static void fe_carry(fe *h) {
    uint64_t c;
    for (int i = 0; i < LSXI_FE_LIMBS - 1; i++) {
        c = h->v[i] >> LSXI_FE_LIMB_BITS;
        h->v[i] &= LSXI_FE_MASK;
        h->v[i + 1] += c;
    }
    c = h->v[4] >> LSXI_FE_LIMB_BITS;
    h->v[4] &= LSXI_FE_MASK;
    h->v[0] += LSXI_FE_FOLD * c;
    c = h->v[0] >> LSXI_FE_LIMB_BITS;
    h->v[0] &= LSXI_FE_MASK;
    h->v[1] += c;
}

/* The unique representative below p, as 32 little-endian bytes. */
static void fe_to_bytes(uint8_t out[LSXI_POINT_BYTES], const fe *f) {
    fe h = *f;
    fe_carry(&h);
    fe_carry(&h);
    /* Now h < 2^255 + a little; q = 1 exactly when h >= p, i.e. h + 19 >= 2^255. */
    uint64_t q = (h.v[0] + LSXI_FE_FOLD) >> LSXI_FE_LIMB_BITS;
    for (int i = 1; i < LSXI_FE_LIMBS; i++) q = (h.v[i] + q) >> LSXI_FE_LIMB_BITS;
    h.v[0] += LSXI_FE_FOLD * q; /* h - p = h + 19 - 2^255: add 19, drop bit 255 below */
    for (int i = 0; i < LSXI_FE_LIMBS - 1; i++) {
        h.v[i + 1] += h.v[i] >> LSXI_FE_LIMB_BITS;
        h.v[i] &= LSXI_FE_MASK;
    }
    h.v[4] &= LSXI_FE_MASK;
    store_le64(out, h.v[0] | (h.v[1] << 51));
    store_le64(out + 8, (h.v[1] >> 13) | (h.v[2] << 38));
    store_le64(out + 16, (h.v[2] >> 26) | (h.v[3] << 25));
    store_le64(out + 24, (h.v[3] >> 39) | (h.v[4] << 12));
}

/* h = the five column sums r of a product, carried back into limbs. */
static void fe_carry_wide(fe *h, fe_wide r[LSXI_FE_LIMBS]) {
    for (int i = 0; i < LSXI_FE_LIMBS - 1; i++) r[i + 1] += (uint64_t)(r[i] >> LSXI_FE_LIMB_BITS);
    const uint64_t h0 = ((uint64_t)r[0] & LSXI_FE_MASK) + LSXI_FE_FOLD * (uint64_t)(r[4] >> LSXI_FE_LIMB_BITS);
    h->v[0] = h0 & LSXI_FE_MASK;
    h->v[1] = ((uint64_t)r[1] & LSXI_FE_MASK) + (h0 >> LSXI_FE_LIMB_BITS);
    for (int i = 2; i < LSXI_FE_LIMBS; i++) h->v[i] = (uint64_t)r[i] & LSXI_FE_MASK;
}

/* h = f * g. h may be f or g. */
static void fe_mul(fe *h, const fe *f, const fe *g) {
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
    const uint64_t g1f = LSXI_FE_FOLD * g1, g2f = LSXI_FE_FOLD * g2, g3f = LSXI_FE_FOLD * g3,
                   g4f = LSXI_FE_FOLD * g4;
    fe_wide r[LSXI_FE_LIMBS] = {
        (fe_wide)f0 * g0 + (fe_wide)f1 * g4f + (fe_wide)f2 * g3f + (fe_wide)f3 * g2f + (fe_wide)f4 * g1f,
        (fe_wide)f0 * g1 + (fe_wide)f1 * g0 + (fe_wide)f2 * g4f + (fe_wide)f3 * g3f + (fe_wide)f4 * g2f,
        (fe_wide)f0 * g2 + (fe_wide)f1 * g1 + (fe_wide)f2 * g0 + (fe_wide)f3 * g4f + (fe_wide)f4 * g3f,
        (fe_wide)f0 * g3 + (fe_wide)f1 * g2 + (fe_wide)f2 * g1 + (fe_wide)f3 * g0 + (fe_wide)f4 * g4f,
        (fe_wide)f0 * g4 + (fe_wide)f1 * g3 + (fe_wide)f2 * g2 + (fe_wide)f3 * g1 + (fe_wide)f4 * g0,
    };
    fe_carry_wide(h, r);
}

/* h = f^2: fe_mul with the equal cross products added once, doubled. */
static void fe_square(fe *h, const fe *f) {
    const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
    const uint64_t f0d = 2 * f0, f1d = 2 * f1, f3f = LSXI_FE_FOLD * f3, f4f = LSXI_FE_FOLD * f4;
    fe_wide r[LSXI_FE_LIMBS] = {
        (fe_wide)f0 * f0 + (fe_wide)f1d * f4f + (fe_wide)(2 * f2) * f3f,
        (fe_wide)f0d * f1 + (fe_wide)(2 * f2) * f4f + (fe_wide)f3 * f3f,
        (fe_wide)f0d * f2 + (fe_wide)f1 * f1 + (fe_wide)(2 * f3) * f4f,
        (fe_wide)f0d * f3 + (fe_wide)f1d * f2 + (fe_wide)f4 * f4f,
        (fe_wide)f0d * f4 + (fe_wide)f1d * f3 + (fe_wide)f2 * f2,
    };
    fe_carry_wide(h, r);
}

/* h = f^(2^n). */
static void fe_square_times(fe *h, const fe *f, int n) {
    fe_square(h, f);
    for (int i = 1; i < n; i++) fe_square(h, h);
}

/* out = z^(p-2) = 1/z for z != 0. With a_k = z^(2^k - 1), a_{j+k} is
 * a_j^(2^k) * a_k; p - 2 = (2^250 - 1) * 2^5 + 11. */
static void fe_invert(fe *out, const fe *z) {
    fe t, a2, a4, a5, a10, a20, a40, a50, a100, a200, a250, z2, z8, z11;
    fe_square(&t, z);
    fe_mul(&a2, &t, z);
    fe_square_times(&t, &a2, 2);
    fe_mul(&a4, &t, &a2);
    fe_square(&t, &a4);
    fe_mul(&a5, &t, z);
    fe_square_times(&t, &a5, 5);
    fe_mul(&a10, &t, &a5);
    fe_square_times(&t, &a10, 10);
    fe_mul(&a20, &t, &a10);
    fe_square_times(&t, &a20, 20);
    fe_mul(&a40, &t, &a20);
    fe_square_times(&t, &a40, 10);
    fe_mul(&a50, &t, &a10);
    fe_square_times(&t, &a50, 50);
    fe_mul(&a100, &t, &a50);
    fe_square_times(&t, &a100, 100);
    fe_mul(&a200, &t, &a100);
    fe_square_times(&t, &a200, 50);
    fe_mul(&a250, &t, &a50);
    /* z^11 = z^8 * z^2 * z */
    fe_square(&z2, z);
    fe_square_times(&z8, &z2, 2);
    fe_mul(&z11, &z8, &z2);
    fe_mul(&z11, &z11, z);
    fe_square_times(&t, &a250, 5);
    fe_mul(out, &t, &z11);
}

int lsxi_x25519_base(uint8_t point[LSXI_POINT_BYTES], const uint8_t scalar[LSXI_SCALAR_BYTES]) {
    uint8_t clamped[LSXI_SCALAR_BYTES], edwards[crypto_scalarmult_ed25519_BYTES];
    fe y, numerator, denominator, u;
    int rc = LSX_OK;
    /* X25519's clamping (RFC 7748 section 5), done here: the clamping
     * variant of the Ed25519 call would also refuse an all-zero scalar,
     * which X25519 accepts. */
    memcpy(clamped, scalar, sizeof clamped);
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    /* A clamped scalar is never a multiple of the base point's order, so the
     * result is never the identity and the call does not fail. */
    if (crypto_scalarmult_ed25519_base_noclamp(edwards, clamped) != 0) {
        rc = LSX_ERR_BACKEND;
        goto done;
    }
    edwards[LSXI_POINT_BYTES - 1] &= (uint8_t)~LSXI_ED25519_SIGN_BIT;
    fe_from_bytes(&y, edwards);
    /* 1 + y, and 2p + 1 - y (so that no limb goes below zero); y < p, and
     * y != 1 since the point is not the identity. */
    for (int i = 0; i < LSXI_FE_LIMBS; i++) {
        numerator.v[i] = y.v[i];
        denominator.v[i] = 2 * (i == 0 ? LSXI_FE_P_LOW : LSXI_FE_P_HIGH) - y.v[i];
    }
    numerator.v[0] += 1;
    denominator.v[0] += 1;
    fe_carry(&numerator);
    fe_carry(&denominator);
    fe_invert(&u, &denominator);
    fe_mul(&u, &u, &numerator);
    fe_to_bytes(point, &u);
done:
    sodium_memzero(clamped, sizeof clamped);
    sodium_memzero(edwards, sizeof edwards);
    return rc;
}
