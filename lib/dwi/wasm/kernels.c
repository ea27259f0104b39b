// The DWI steps' innermost loops, compiled to WebAssembly with SIMD (see build.sh): the same
// computations as the TypeScript around them describe, two lanes per instruction, no bounds checks.
//  - tridiagonalize: the O(n³) part of SymmetricEigen (eigen.ts), per MP-PCA window;
//  - tensor_normal_equations: the weighted least-squares sums of the tensor fit (tensor.ts), per voxel.
// Arrays live in the memory that JavaScript passes in (see index.ts); all pointers are into it.
#include <wasm_simd128.h>

typedef double f64;

// Reflector k from column k below the diagonal (rows k+1..n-1). Returns 0 (β = 0) when the
// column is already reduced.
static int make_reflector(int n, int k, f64 *a, f64 *beta, f64 *e, f64 *house) {
  const int s = k + 1;
  f64 *hv = house + k * n;
  f64 sigma = 0;
  for (int i = s + 1; i < n; i++) {
    const f64 x = a[i * n + k];
    hv[i] = x;
    sigma += x * x;
  }
  const f64 x0 = a[s * n + k];
  hv[s] = 1;
  if (sigma == 0) {
    beta[k] = 0;
    e[k] = x0;
    for (int i = s + 1; i < n; i++) hv[i] = 0;
    return 0;
  }
  const f64 mu = __builtin_sqrt(x0 * x0 + sigma);
  // Parlett's choice avoids cancellation; H x = mu·e1 in both branches.
  const f64 v0 = x0 <= 0 ? x0 - mu : -sigma / (x0 + mu);
  beta[k] = (2 * v0 * v0) / (sigma + v0 * v0);
  const f64 inv = 1 / v0;
  for (int i = s + 1; i < n; i++) hv[i] *= inv;
  e[k] = mu;
  return 1;
}

static inline f64 hsum(v128_t v) { return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1); }

// Row i of the fused pass, columns from..i-1: A[i,j] -= vi·w[j] + wi·hv[j]; returns Σ A[i,j]·hn[j]
// and adds A[i,j]·nvi to q[j].
static inline f64 update_row(f64 *ar, const f64 *w, const f64 *hv, const f64 *hn, f64 *q, int from, int to,
                             f64 vi, f64 wi, f64 nvi) {
  const v128_t vvi = wasm_f64x2_splat(vi), vwi = wasm_f64x2_splat(wi), vnvi = wasm_f64x2_splat(nvi);
  v128_t acc0 = wasm_f64x2_splat(0), acc1 = wasm_f64x2_splat(0);
  int j = from;
  for (; j + 3 < to; j += 4) {
    v128_t a0 = wasm_v128_load(ar + j), a1 = wasm_v128_load(ar + j + 2);
    a0 = wasm_f64x2_sub(a0, wasm_f64x2_add(wasm_f64x2_mul(vvi, wasm_v128_load(w + j)), wasm_f64x2_mul(vwi, wasm_v128_load(hv + j))));
    a1 = wasm_f64x2_sub(a1, wasm_f64x2_add(wasm_f64x2_mul(vvi, wasm_v128_load(w + j + 2)), wasm_f64x2_mul(vwi, wasm_v128_load(hv + j + 2))));
    wasm_v128_store(ar + j, a0);
    wasm_v128_store(ar + j + 2, a1);
    acc0 = wasm_f64x2_add(acc0, wasm_f64x2_mul(a0, wasm_v128_load(hn + j)));
    acc1 = wasm_f64x2_add(acc1, wasm_f64x2_mul(a1, wasm_v128_load(hn + j + 2)));
    wasm_v128_store(q + j, wasm_f64x2_add(wasm_v128_load(q + j), wasm_f64x2_mul(a0, vnvi)));
    wasm_v128_store(q + j + 2, wasm_f64x2_add(wasm_v128_load(q + j + 2), wasm_f64x2_mul(a1, vnvi)));
  }
  f64 acc = hsum(wasm_f64x2_add(acc0, acc1));
  for (; j < to; j++) {
    const f64 x = ar[j] - (vi * w[j] + wi * hv[j]);
    ar[j] = x;
    acc += x * hn[j];
    q[j] += x * nvi;
  }
  return acc;
}

// As update_row without the update (step k had β = 0).
static inline f64 product_row(const f64 *ar, const f64 *hn, f64 *q, int from, int to, f64 nvi) {
  const v128_t vnvi = wasm_f64x2_splat(nvi);
  v128_t acc0 = wasm_f64x2_splat(0);
  int j = from;
  for (; j + 1 < to; j += 2) {
    const v128_t a0 = wasm_v128_load(ar + j);
    acc0 = wasm_f64x2_add(acc0, wasm_f64x2_mul(a0, wasm_v128_load(hn + j)));
    wasm_v128_store(q + j, wasm_f64x2_add(wasm_v128_load(q + j), wasm_f64x2_mul(a0, vnvi)));
  }
  f64 acc = hsum(acc0);
  for (; j < to; j++) {
    acc += ar[j] * hn[j];
    q[j] += ar[j] * nvi;
  }
  return acc;
}

// A = Q T Qᵀ. `a` (row-major, lower triangle read) is overwritten; d and e receive T's diagonal
// and off-diagonal; reflector k is I - β_k v_k v_kᵀ with v_k in row k of `house`. p and q are
// scratch vectors of n.
__attribute__((export_name("tridiagonalize")))
void tridiagonalize(int n, f64 *a, f64 *d, f64 *e, f64 *beta, f64 *p, f64 *house, f64 *q) {
  if (n > 2 && make_reflector(n, 0, a, beta, e, house)) {
    const f64 *v = house;
    for (int i = 1; i < n; i++) p[i] = 0;
    for (int i = 1; i < n; i++) p[i] += product_row(a + i * n, v, p, 1, i, v[i]) + a[i * n + i] * v[i];
    for (int i = 1; i < n; i++) p[i] *= beta[0];
  }
  for (int k = 0; k < n - 2; k++) {
    const int s = k + 1;
    const f64 *hv = house + k * n;
    const f64 b = beta[k];
    if (b != 0) {
      f64 pv = 0;
      for (int i = s; i < n; i++) pv += p[i] * hv[i];
      const f64 half = (b * pv) / 2;
      for (int i = s; i < n; i++) p[i] -= half * hv[i];
      const f64 ws = p[s];
      a[s * n + s] -= 2 * ws;
      for (int i = s + 1; i < n; i++) a[i * n + s] -= hv[i] * ws + p[i];
    }
    const int next = k + 1;
    const int has_next = next < n - 2 && make_reflector(n, next, a, beta, e, house);
    const f64 *hn = house + next * n;
    const int s2 = s + 1;
    if (b == 0 && !has_next) continue;
    const f64 *w = p;
    if (has_next) for (int i = s2; i < n; i++) q[i] = 0;
    for (int i = s2; i < n; i++) {
      f64 *ar = a + i * n;
      const f64 vi = hv[i], wi = w[i];
      if (has_next) {
        const f64 nvi = hn[i];
        if (b != 0) {
          f64 acc = update_row(ar, w, hv, hn, q, s2, i, vi, wi, nvi);
          const f64 aii = ar[i] - 2 * vi * wi;
          ar[i] = aii;
          q[i] += acc + aii * nvi;
        } else {
          q[i] += product_row(ar, hn, q, s2, i, nvi) + ar[i] * nvi;
        }
      } else {
        for (int j = s2; j <= i; j++) ar[j] -= vi * w[j] + wi * hv[j];
      }
    }
    if (has_next) {
      const f64 bn = beta[next];
      for (int i = s2; i < n; i++) p[i] = q[i] * bn;
    }
  }
  for (int i = 0; i < n; i++) d[i] = a[i * n + i];
  for (int k = 0; k < n - 2; k++) if (beta[k] == 0) e[k] = a[(k + 1) * n + k];
  if (n >= 2) e[n - 2] = a[(n - 1) * n + (n - 2)];
  if (n >= 1) e[n - 1] = 0;
}

// Normal equations of one weighted least-squares step of the tensor fit: for the 28 entries of the
// packed lower triangle, normal[i] = Σ_r weight[r]·outer[i·rows + r]; for the 7 unknowns,
// rhs[i] = Σ_r weight[r]·log_s[r]·design_t[i·rows + r].
__attribute__((export_name("tensor_normal_equations")))
void tensor_normal_equations(int rows, const f64 *weight, const f64 *log_s, const f64 *outer, const f64 *design_t,
                             f64 *weighted_log, f64 *normal, f64 *rhs) {
  for (int r = 0; r < rows; r++) weighted_log[r] = weight[r] * log_s[r];
  for (int i = 0; i < 35; i++) {
    const f64 *x = i < 28 ? weight : weighted_log;
    const f64 *y = i < 28 ? outer + i * rows : design_t + (i - 28) * rows;
    v128_t acc0 = wasm_f64x2_splat(0), acc1 = wasm_f64x2_splat(0);
    int r = 0;
    for (; r + 3 < rows; r += 4) {
      acc0 = wasm_f64x2_add(acc0, wasm_f64x2_mul(wasm_v128_load(x + r), wasm_v128_load(y + r)));
      acc1 = wasm_f64x2_add(acc1, wasm_f64x2_mul(wasm_v128_load(x + r + 2), wasm_v128_load(y + r + 2)));
    }
    f64 sum = hsum(wasm_f64x2_add(acc0, acc1));
    for (; r < rows; r++) sum += x[r] * y[r];
    if (i < 28) normal[i] = sum;
    else rhs[i - 28] = sum;
  }
}

static inline int wrap(int y, int n) {
  const int r = y % n;
  return r < 0 ? r + n : r;
}

// Lanes 0 and 1 each kept their first minimum (shifts j even and odd); the lower shift wins a tie.
static inline void lane_minimum(v128_t best, v128_t best_j, f64 *b, f64 *bj) {
  *b = wasm_f64x2_extract_lane(best, 0);
  *bj = wasm_f64x2_extract_lane(best_j, 0);
  const f64 b1 = wasm_f64x2_extract_lane(best, 1), bj1 = wasm_f64x2_extract_lane(best_j, 1);
  if (b1 < *b || (b1 == *b && bj1 < *bj)) {
    *b = b1;
    *bj = bj1;
  }
}

// For rows a and b at one window position: the lowest window sum over shifts, and the first shift
// reaching it. older_a and older_b hold the window's other span - 1 rows of diffs, oldest first
// (summed in that order, as before: the same rounding); new_a and new_b its newest.
static inline void window_minima(const f64 *const *older_a, const f64 *const *older_b, int span, int count,
                                 const f64 *new_a, const f64 *new_b, f64 *min_a, int *arg_a, f64 *min_b, int *arg_b) {
  v128_t best_a = wasm_f64x2_splat(__builtin_inf()), best_b = best_a;
  v128_t arg_va = wasm_f64x2_splat(0), arg_vb = arg_va;
  v128_t jv = wasm_f64x2_make(0, 1);
  const v128_t two = wasm_f64x2_splat(2);
  int j = 0;
  for (; j + 1 < count; j += 2) {
    v128_t sa = wasm_f64x2_splat(0), sb = sa;
    for (int t = 0; t < span - 1; t++) {
      sa = wasm_f64x2_add(sa, wasm_v128_load(older_a[t] + j));
      sb = wasm_f64x2_add(sb, wasm_v128_load(older_b[t] + j));
    }
    sa = wasm_f64x2_add(sa, wasm_v128_load(new_a + j));
    sb = wasm_f64x2_add(sb, wasm_v128_load(new_b + j));
    const v128_t lower_a = wasm_f64x2_lt(sa, best_a), lower_b = wasm_f64x2_lt(sb, best_b);
    best_a = wasm_v128_bitselect(sa, best_a, lower_a);
    arg_va = wasm_v128_bitselect(jv, arg_va, lower_a);
    best_b = wasm_v128_bitselect(sb, best_b, lower_b);
    arg_vb = wasm_v128_bitselect(jv, arg_vb, lower_b);
    jv = wasm_f64x2_add(jv, two);
  }
  f64 ba, ja, bb, jb;
  lane_minimum(best_a, arg_va, &ba, &ja);
  lane_minimum(best_b, arg_vb, &bb, &jb);
  for (; j < count; j++) {
    f64 sa = 0, sb = 0;
    for (int t = 0; t < span - 1; t++) {
      sa += older_a[t][j];
      sb += older_b[t][j];
    }
    sa += new_a[j];
    sb += new_b[j];
    if (sa < ba) {
      ba = sa;
      ja = j;
    }
    if (sb < bb) {
      bb = sb;
      jb = j;
    }
  }
  *min_a = ba;
  *arg_a = (int)ja;
  *min_b = bb;
  *arg_b = (int)jb;
}

// Gibbs removal's shift search for a row pair (gibbs.ts, RowUnringer.select): va and vb hold the
// two rows at every shift, [x][shift]. For window positions w = lo..hi (lo = -max_w - 1,
// hi = n - 1 + min_w), the window sums diffs |v[y+1] - v[y]| (periodic) for y = w..w+span-1; per
// position, the lowest sum over shifts and the first shift reaching it. ring_a and ring_b hold
// the last span rows of diffs.
__attribute__((export_name("gibbs_window_minima")))
void gibbs_window_minima(int n, int count, int min_w, int max_w, const f64 *va, const f64 *vb, f64 *ring_a,
                         f64 *ring_b, f64 *min_a, int *arg_a, f64 *min_b, int *arg_b) {
  const int span = max_w - min_w + 1;
  const int lo = -max_w - 1, hi = n - 1 + min_w;
  for (int w = lo - span + 1; w <= hi; w++) {
    // Diff y = w + span - 1 enters the ring.
    const int y = w + span - 1;
    const int slot = (y - lo) % span;
    const int from = wrap(y, n) * count, to = wrap(y + 1, n) * count;
    f64 *da = ring_a + slot * count, *db = ring_b + slot * count;
    int j = 0;
    for (; j + 1 < count; j += 2) {
      wasm_v128_store(da + j, wasm_f64x2_abs(wasm_f64x2_sub(wasm_v128_load(va + to + j), wasm_v128_load(va + from + j))));
      wasm_v128_store(db + j, wasm_f64x2_abs(wasm_f64x2_sub(wasm_v128_load(vb + to + j), wasm_v128_load(vb + from + j))));
    }
    for (; j < count; j++) {
      da[j] = __builtin_fabs(va[to + j] - va[from + j]);
      db[j] = __builtin_fabs(vb[to + j] - vb[from + j]);
    }
    if (w < lo) continue;
    const f64 *older_a[span], *older_b[span];
    for (int t = 1; t < span; t++) {
      const int at = ((slot + t) % span) * count;
      older_a[t - 1] = ring_a + at;
      older_b[t - 1] = ring_b + at;
    }
    window_minima(older_a, older_b, span, count, da, db, min_a + (w - lo), arg_a + (w - lo), min_b + (w - lo), arg_b + (w - lo));
  }
}

// MP-PCA's Gram sums for one image row (denoise.ts, denoiseSlices): for each of nx voxels, the
// packed lower triangle of Σ v vᵀ over `rows` copies of the row (one per slice of the window), v
// being the voxel's m volumes; values holds the rows one after another, voxel-major.
__attribute__((export_name("gram_row_sums")))
void gram_row_sums(int nx, int m, int rows, const f64 *values, f64 *sums) {
  const int packed = m * (m + 1) / 2;
  for (int i = 0; i < nx * packed; i++) sums[i] = 0;
  for (int r = 0; r < rows; r++) {
    for (int x = 0; x < nx; x++) {
      const f64 *v = values + (r * nx + x) * m;
      f64 *s = sums + x * packed;
      for (int i = 0; i < m; i++) {
        const v128_t vi = wasm_f64x2_splat(v[i]);
        int j = 0;
        for (; j + 1 <= i; j += 2) wasm_v128_store(s + j, wasm_f64x2_add(wasm_v128_load(s + j), wasm_f64x2_mul(vi, wasm_v128_load(v + j))));
        for (; j <= i; j++) s[j] += v[i] * v[j];
        s += i + 1;
      }
    }
  }
}

// dst[i] += src[i] (sign > 0) or -= src[i], for i < length.
__attribute__((export_name("add_plane")))
void add_plane(f64 *dst, const f64 *src, int length, int sign) {
  int i = 0;
  if (sign > 0) {
    for (; i + 1 < length; i += 2) wasm_v128_store(dst + i, wasm_f64x2_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
    for (; i < length; i++) dst[i] += src[i];
  } else {
    for (; i + 1 < length; i += 2) wasm_v128_store(dst + i, wasm_f64x2_sub(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
    for (; i < length; i++) dst[i] -= src[i];
  }
}

// One stage of B batched FFTs (fft.ts, BatchFft; Stockham, element k of transform b at k·B + b):
// the same expressions as fft.ts's radix-2, 3, 4, 5 and 7 stages, in the same order, so the same
// results, vectorised over the mb = m·B contiguous values per sub-sequence. tw_re and tw_im are
// the stage's forward twiddles (j·p + q); k holds the constants below, as JavaScript computed them.
// Returns 0 for other radices.
enum { K_C5_1, K_C5_2, K_S5_1, K_S5_2, K_C7_1, K_C7_2, K_C7_3, K_S7_1, K_S7_2, K_S7_3, K_SQRT3_2 };

#define TWIDDLE(q) const f64 w##q##r = tw_re[t + q], w##q##i = sign * tw_im[t + q]
#define LOAD_TWIDDLED(q)                                                     \
  const f64 y##q##r = a_re[i0 + q * mb], y##q##i = a_im[i0 + q * mb];        \
  const f64 x##q##r = y##q##r * w##q##r - y##q##i * w##q##i, x##q##i = y##q##r * w##q##i + y##q##i * w##q##r

__attribute__((export_name("fft_batch_stage")))
int fft_batch_stage(int p, int l, int mb, const f64 *tw_re, const f64 *tw_im, const f64 *k, const f64 *__restrict a_re,
                    const f64 *__restrict a_im, f64 *__restrict b_re, f64 *__restrict b_im, int sign_int) {
  const f64 sign = sign_int;
  const int out = l * mb;
  if (p == 4) {
    for (int j = 0; j < l; j++) {
      const int t = j * 4;
      TWIDDLE(1); TWIDDLE(2); TWIDDLE(3);
      const int in_base = j * mb * 4, out_base = j * mb;
      for (int kk = 0; kk < mb; kk++) {
        const int i0 = in_base + kk;
        const f64 x0r = a_re[i0], x0i = a_im[i0];
        LOAD_TWIDDLED(1); LOAD_TWIDDLED(2); LOAD_TWIDDLED(3);
        const f64 t0r = x0r + x2r, t0i = x0i + x2i;
        const f64 t1r = x0r - x2r, t1i = x0i - x2i;
        const f64 t2r = x1r + x3r, t2i = x1i + x3i;
        const f64 t3r = sign * (x1i - x3i), t3i = -sign * (x1r - x3r);
        const int o = out_base + kk;
        b_re[o] = t0r + t2r; b_im[o] = t0i + t2i;
        b_re[o + out] = t1r + t3r; b_im[o + out] = t1i + t3i;
        b_re[o + 2 * out] = t0r - t2r; b_im[o + 2 * out] = t0i - t2i;
        b_re[o + 3 * out] = t1r - t3r; b_im[o + 3 * out] = t1i - t3i;
      }
    }
  } else if (p == 2) {
    for (int j = 0; j < l; j++) {
      const int t = j * 2;
      TWIDDLE(1);
      const int in_base = j * mb * 2, out_base = j * mb;
      for (int kk = 0; kk < mb; kk++) {
        const int i0 = in_base + kk;
        const f64 x0r = a_re[i0], x0i = a_im[i0];
        LOAD_TWIDDLED(1);
        const int o = out_base + kk;
        b_re[o] = x0r + x1r; b_im[o] = x0i + x1i;
        b_re[o + out] = x0r - x1r; b_im[o + out] = x0i - x1i;
      }
    }
  } else if (p == 3) {
    const f64 h = sign * k[K_SQRT3_2];
    for (int j = 0; j < l; j++) {
      const int t = j * 3;
      TWIDDLE(1); TWIDDLE(2);
      const int in_base = j * mb * 3, out_base = j * mb;
      for (int kk = 0; kk < mb; kk++) {
        const int i0 = in_base + kk;
        const f64 x0r = a_re[i0], x0i = a_im[i0];
        LOAD_TWIDDLED(1); LOAD_TWIDDLED(2);
        const f64 sr = x1r + x2r, si = x1i + x2i;
        const f64 cr = x0r - 0.5 * sr, ci = x0i - 0.5 * si;
        const f64 ur = h * (x1i - x2i), ui = -h * (x1r - x2r);
        const int o = out_base + kk;
        b_re[o] = x0r + sr; b_im[o] = x0i + si;
        b_re[o + out] = cr + ur; b_im[o + out] = ci + ui;
        b_re[o + 2 * out] = cr - ur; b_im[o + 2 * out] = ci - ui;
      }
    }
  } else if (p == 5) {
    const f64 c1 = k[K_C5_1], c2 = k[K_C5_2], s1 = sign * k[K_S5_1], s2 = sign * k[K_S5_2];
    for (int j = 0; j < l; j++) {
      const int t = j * 5;
      TWIDDLE(1); TWIDDLE(2); TWIDDLE(3); TWIDDLE(4);
      const int in_base = j * mb * 5, out_base = j * mb;
      for (int kk = 0; kk < mb; kk++) {
        const int i0 = in_base + kk;
        const f64 x0r = a_re[i0], x0i = a_im[i0];
        LOAD_TWIDDLED(1); LOAD_TWIDDLED(2); LOAD_TWIDDLED(3); LOAD_TWIDDLED(4);
        const f64 a1r = x1r + x4r, a1i = x1i + x4i, b1r = x1r - x4r, b1i = x1i - x4i;
        const f64 a2r = x2r + x3r, a2i = x2i + x3i, b2r = x2r - x3r, b2i = x2i - x3i;
        const f64 c1r = x0r + c1 * a1r + c2 * a2r, c1i = x0i + c1 * a1i + c2 * a2i;
        const f64 c2r = x0r + c2 * a1r + c1 * a2r, c2i = x0i + c2 * a1i + c1 * a2i;
        const f64 d1r = s1 * b1i + s2 * b2i, d1i = -(s1 * b1r + s2 * b2r);
        const f64 d2r = s2 * b1i - s1 * b2i, d2i = -(s2 * b1r - s1 * b2r);
        const int o = out_base + kk;
        b_re[o] = x0r + a1r + a2r; b_im[o] = x0i + a1i + a2i;
        b_re[o + out] = c1r + d1r; b_im[o + out] = c1i + d1i;
        b_re[o + 4 * out] = c1r - d1r; b_im[o + 4 * out] = c1i - d1i;
        b_re[o + 2 * out] = c2r + d2r; b_im[o + 2 * out] = c2i + d2i;
        b_re[o + 3 * out] = c2r - d2r; b_im[o + 3 * out] = c2i - d2i;
      }
    }
  } else if (p == 7) {
    const f64 c1 = k[K_C7_1], c2 = k[K_C7_2], c3 = k[K_C7_3];
    const f64 s1 = sign * k[K_S7_1], s2 = sign * k[K_S7_2], s3 = sign * k[K_S7_3];
    for (int j = 0; j < l; j++) {
      const int t = j * 7;
      TWIDDLE(1); TWIDDLE(2); TWIDDLE(3); TWIDDLE(4); TWIDDLE(5); TWIDDLE(6);
      const int in_base = j * mb * 7, out_base = j * mb;
      for (int kk = 0; kk < mb; kk++) {
        const int i0 = in_base + kk;
        const f64 x0r = a_re[i0], x0i = a_im[i0];
        LOAD_TWIDDLED(1); LOAD_TWIDDLED(2); LOAD_TWIDDLED(3); LOAD_TWIDDLED(4); LOAD_TWIDDLED(5); LOAD_TWIDDLED(6);
        const f64 a1r = x1r + x6r, a1i = x1i + x6i, b1r = x1r - x6r, b1i = x1i - x6i;
        const f64 a2r = x2r + x5r, a2i = x2i + x5i, b2r = x2r - x5r, b2i = x2i - x5i;
        const f64 a3r = x3r + x4r, a3i = x3i + x4i, b3r = x3r - x4r, b3i = x3i - x4i;
        const f64 c1r = x0r + c1 * a1r + c2 * a2r + c3 * a3r, c1i = x0i + c1 * a1i + c2 * a2i + c3 * a3i;
        const f64 c2r = x0r + c2 * a1r + c3 * a2r + c1 * a3r, c2i = x0i + c2 * a1i + c3 * a2i + c1 * a3i;
        const f64 c3r = x0r + c3 * a1r + c1 * a2r + c2 * a3r, c3i = x0i + c3 * a1i + c1 * a2i + c2 * a3i;
        const f64 e1r = s1 * b1r + s2 * b2r + s3 * b3r, e1i = s1 * b1i + s2 * b2i + s3 * b3i;
        const f64 e2r = s2 * b1r - s3 * b2r - s1 * b3r, e2i = s2 * b1i - s3 * b2i - s1 * b3i;
        const f64 e3r = s3 * b1r - s1 * b2r + s2 * b3r, e3i = s3 * b1i - s1 * b2i + s2 * b3i;
        const int o = out_base + kk;
        b_re[o] = x0r + a1r + a2r + a3r; b_im[o] = x0i + a1i + a2i + a3i;
        b_re[o + out] = c1r + e1i; b_im[o + out] = c1i - e1r;
        b_re[o + 6 * out] = c1r - e1i; b_im[o + 6 * out] = c1i + e1r;
        b_re[o + 2 * out] = c2r + e2i; b_im[o + 2 * out] = c2i - e2r;
        b_re[o + 5 * out] = c2r - e2i; b_im[o + 5 * out] = c2i + e2r;
        b_re[o + 3 * out] = c3r + e3i; b_im[o + 3 * out] = c3i - e3r;
        b_re[o + 4 * out] = c3r - e3i; b_im[o + 4 * out] = c3i + e3r;
      }
    }
  } else {
    return 0;
  }
  return 1;
}

// The first (radix-4, l = 1) stage of B inverse transforms of one spectrum z modulated B ways:
// element k of transform b is z[k]·mod[k·B + b] (fft.ts, BatchFft.inverseModulated), m = n / 4.
__attribute__((export_name("fft_batch_first_modulated")))
void fft_batch_first_modulated(int m, int batch, const f64 *z_re, const f64 *z_im, const f64 *__restrict mod_re,
                               const f64 *__restrict mod_im, f64 *__restrict re, f64 *__restrict im) {
  const int mb = m * batch;
  for (int k0 = 0; k0 < m; k0++) {
    const int k1 = k0 + m, k2 = k0 + 2 * m, k3 = k0 + 3 * m;
    const f64 z0r = z_re[k0], z0i = z_im[k0], z1r = z_re[k1], z1i = z_im[k1];
    const f64 z2r = z_re[k2], z2i = z_im[k2], z3r = z_re[k3], z3i = z_im[k3];
    const int c0 = k0 * batch, c1 = k1 * batch, c2 = k2 * batch, c3 = k3 * batch;
    for (int b = 0; b < batch; b++) {
      f64 cr = mod_re[c0 + b], ci = mod_im[c0 + b];
      const f64 x0r = z0r * cr - z0i * ci, x0i = z0r * ci + z0i * cr;
      cr = mod_re[c1 + b]; ci = mod_im[c1 + b];
      const f64 x1r = z1r * cr - z1i * ci, x1i = z1r * ci + z1i * cr;
      cr = mod_re[c2 + b]; ci = mod_im[c2 + b];
      const f64 x2r = z2r * cr - z2i * ci, x2i = z2r * ci + z2i * cr;
      cr = mod_re[c3 + b]; ci = mod_im[c3 + b];
      const f64 x3r = z3r * cr - z3i * ci, x3i = z3r * ci + z3i * cr;
      const f64 t0r = x0r + x2r, t0i = x0i + x2i;
      const f64 t1r = x0r - x2r, t1i = x0i - x2i;
      const f64 t2r = x1r + x3r, t2i = x1i + x3i;
      const f64 t3r = -(x1i - x3i), t3i = x1r - x3r;
      const int o = c0 + b;
      re[o] = t0r + t2r; im[o] = t0i + t2i;
      re[o + mb] = t1r + t3r; im[o + mb] = t1i + t3i;
      re[o + 2 * mb] = t0r - t2r; im[o + 2 * mb] = t0i - t2i;
      re[o + 3 * mb] = t1r - t3r; im[o + 3 * mb] = t1i - t3i;
    }
  }
}

// Implicit symmetric QR with Wilkinson shifts on the tridiagonal (d, e) (eigen.ts,
// SymmetricEigen.qrIterate, which documents it; the same operations in the same order). With
// `record`, rotation i is kept as (k, c, s) at rotations[3i..3i+2]. `state` holds the rotation
// count, the active block's upper end and the iteration count, so that a call that runs out of
// room for rotations (returns 0; the caller grows the room) can be resumed; 1 when done.
__attribute__((export_name("qr_iterate")))
int qr_iterate(int n, f64 *d, f64 *e, f64 tol, int record, f64 *rotations, int capacity, int *state) {
  const f64 eps = 2.220446049250313e-16;
  int count = state[0], hi = state[1], iterations = state[2];
  const int max_iterations = 60 * n;
  int done = 1;
  while (hi > 0) {
    if (__builtin_fabs(e[hi - 1]) <= eps * (__builtin_fabs(d[hi - 1]) + __builtin_fabs(d[hi])) || __builtin_fabs(e[hi - 1]) <= tol) {
      e[hi - 1] = 0;
      hi--;
      continue;
    }
    if (record && count + hi > capacity) {
      // Before any change to this sweep: the resumed call redoes it from here.
      done = 0;
      break;
    }
    int lo = hi - 1;
    while (lo > 0 && __builtin_fabs(e[lo - 1]) > eps * (__builtin_fabs(d[lo - 1]) + __builtin_fabs(d[lo])) &&
           __builtin_fabs(e[lo - 1]) > tol)
      lo--;
    if (lo > 0) e[lo - 1] = 0;
    if (++iterations > max_iterations) break;
    const f64 delta = (d[hi - 1] - d[hi]) / 2;
    const f64 bb = e[hi - 1] * e[hi - 1];
    const f64 mu = d[hi] - bb / (delta + (delta >= 0 ? 1 : -1) * __builtin_sqrt(delta * delta + bb));
    f64 x = d[lo] - mu;
    f64 z = e[lo];
    for (int k = lo; k < hi; k++) {
      const f64 rho = x * x + z * z;
      f64 c = 1, s = 0, cc = 1, ss = 0, cs = 0, r = 0;
      if (rho != 0) {
        const f64 inv_rho = 1 / rho;
        cc = x * x * inv_rho;
        ss = z * z * inv_rho;
        cs = -x * z * inv_rho;
        r = __builtin_sqrt(rho);
        const f64 inv_r = 1 / r;
        c = x * inv_r;
        s = -z * inv_r;
      }
      if (k > lo) e[k - 1] = r;
      const f64 pk = d[k], q = e[k], t = d[k + 1];
      d[k] = cc * pk - 2 * cs * q + ss * t;
      d[k + 1] = ss * pk + 2 * cs * q + cc * t;
      const f64 ek = cs * (pk - t) + (cc - ss) * q;
      e[k] = ek;
      if (k < hi - 1) {
        const f64 en = e[k + 1];
        z = -s * en;
        e[k + 1] = c * en;
        x = ek;
      }
      if (record) {
        f64 *rot = rotations + 3 * count;
        rot[0] = k;
        rot[1] = c;
        rot[2] = s;
        count++;
      }
    }
  }
  state[0] = count;
  state[1] = hi;
  state[2] = iterations;
  return done;
}

// y ← (I - b v vᵀ) y with v = house[s..n).
static inline void apply_reflector(const f64 *house, int s, int n, f64 b, f64 *y) {
  if (b == 0) return;
  f64 dot = 0;
  for (int i = s; i < n; i++) dot += house[i] * y[i];
  dot *= b;
  for (int i = s; i < n; i++) y[i] -= dot * house[i];
}

// y ← (Q Z)ᵀ y (to_eigenbasis) or y ← (Q Z) y: the reflectors of tridiagonalize and the recorded
// rotations of qr_iterate (SymmetricEigen.toEigenbasis and fromEigenbasis).
__attribute__((export_name("to_eigenbasis")))
void to_eigenbasis(int n, const f64 *house, const f64 *beta, const f64 *rotations, int count, f64 *y) {
  for (int k = 0; k < n - 2; k++) apply_reflector(house + k * n, k + 1, n, beta[k], y);
  for (int r = 0; r < count; r++) {
    const f64 *rot = rotations + 3 * r;
    const int k = (int)rot[0];
    const f64 c = rot[1], s = rot[2];
    const f64 yk = y[k], yk1 = y[k + 1];
    y[k] = c * yk - s * yk1;
    y[k + 1] = s * yk + c * yk1;
  }
}

__attribute__((export_name("from_eigenbasis")))
void from_eigenbasis(int n, const f64 *house, const f64 *beta, const f64 *rotations, int count, f64 *y) {
  for (int r = count - 1; r >= 0; r--) {
    const f64 *rot = rotations + 3 * r;
    const int k = (int)rot[0];
    const f64 c = rot[1], s = rot[2];
    const f64 yk = y[k], yk1 = y[k + 1];
    y[k] = c * yk + s * yk1;
    y[k + 1] = -s * yk + c * yk1;
  }
  for (int k = n - 3; k >= 0; k--) apply_reflector(house + k * n, k + 1, n, beta[k], y);
}
