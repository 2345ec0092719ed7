// Dense linear algebra from the system's OpenBLAS (BLAS and LAPACK) for stats/nativeKernels.ts. Every call runs on
// libuv's thread pool and settles a promise, so the event loop (progress lines, Ctrl-C) stays free during long
// factorizations. Matrices are column-major, as LAPACK wants them; the TypeScript side maps row-major onto that.
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Fortran entry points of OpenBLAS; the trailing size_t arguments are the hidden lengths of character arguments.
extern void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*, const int*,
                   const double*, const int*, const double*, double*, const int*, size_t, size_t);
extern void dsyrk_(const char*, const char*, const int*, const int*, const double*, const double*, const int*, const double*,
                   double*, const int*, size_t, size_t);
extern void dsytrd_(const char*, const int*, double*, const int*, double*, double*, double*, double*, const int*, int*, size_t);
extern void dormtr_(const char*, const char*, const char*, const int*, const int*, const double*, const int*, const double*,
                    double*, const int*, double*, const int*, int*, size_t, size_t, size_t);
extern void dlarft_(const char*, const char*, const int*, const int*, const double*, const int*, const double*, double*, const int*,
                    size_t, size_t);
extern void dlarfb_(const char*, const char*, const char*, const char*, const int*, const int*, const int*, const double*,
                    const int*, const double*, const int*, double*, const int*, double*, const int*, size_t, size_t, size_t, size_t);
extern void dtrmm_(const char*, const char*, const char*, const char*, const int*, const int*, const double*, const double*,
                   const int*, double*, const int*, size_t, size_t, size_t, size_t);
extern void dorg2l_(const int*, const int*, const int*, double*, const int*, const double*, double*, int*);
extern void dgeqrf_(const int*, const int*, double*, const int*, double*, double*, const int*, int*);
extern void dsymm_(const char*, const char*, const int*, const int*, const double*, const double*, const int*, const double*,
                   const int*, const double*, double*, const int*, size_t, size_t);
extern void dsyr2k_(const char*, const char*, const int*, const int*, const double*, const double*, const int*, const double*,
                    const int*, const double*, double*, const int*, size_t, size_t);
extern void dpbtrf_(const char*, const int*, const int*, double*, const int*, int*, size_t);
extern void dpbtrs_(const char*, const int*, const int*, const int*, const double*, const int*, double*, const int*, int*, size_t);
extern void dpotrf_(const char*, const int*, double*, const int*, int*, size_t);
extern void dpotrs_(const char*, const int*, const int*, const double*, const int*, double*, const int*, int*, size_t);
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char* openblas_get_config(void);

enum {
  GEMM, SYRK, SYTRD, ORMTR, FORM_Q, POTRF, POTRS, SHIFTED_FORMS, STANDARDIZE, ORMTR_BLOCKED, MOMENTS, TRANSPOSED_PRODUCT,
  BAND_REDUCE, BAND_APPLY, BAND_SOLVE
};

#define MAX_INTS 12
#define MAX_DOUBLES 4
#define MAX_ARRAYS 6
#define MAX_PARTS 64

typedef struct {
  int op;
  int threads;
  int ints[MAX_INTS];
  double doubles[MAX_DOUBLES];
  void* arrays[MAX_ARRAYS];
  napi_ref refs[MAX_ARRAYS];
  int nArrays;
  int info;
  napi_deferred deferred;
  napi_async_work work;
} Call;

// One call at a time: each already uses every core, and older OpenBLAS builds are not safe under concurrent calls.
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char* flag(int on, const char* yes, const char* no) { return on ? yes : no; }

// Workspace query (lwork = -1) and then the call, for the LAPACK routines that take a work array.
static double* workspace(double query, int* lwork) {
  *lwork = (int)query;
  if (*lwork < 1) *lwork = 1;
  return (double*)malloc(sizeof(double) * (size_t)*lwork);
}

// part(job, from, to) over 0..count, split evenly between up to `threads` threads (the calling one among them). The
// parts write disjoint outputs, so the result does not depend on the thread count.
typedef void (*Part)(const void* job, int from, int to);
typedef struct {
  Part part;
  const void* job;
  int from, to;
} Share;

static void* runShare(void* arg) {
  const Share* s = (const Share*)arg;
  s->part(s->job, s->from, s->to);
  return NULL;
}

static void parallel(int threads, int count, Part part, const void* job) {
  if (threads > MAX_PARTS) threads = MAX_PARTS;
  if (threads > count) threads = count;
  if (threads < 1) threads = 1;
  Share shares[MAX_PARTS];
  pthread_t ids[MAX_PARTS];
  for (int t = 0; t < threads; t++) {
    shares[t] = (Share){part, job, (int)((long)count * t / threads), (int)((long)count * (t + 1) / threads)};
    if (t > 0) pthread_create(&ids[t], NULL, runShare, &shares[t]);
  }
  runShare(&shares[0]);
  for (int t = 1; t < threads; t++) pthread_join(ids[t], NULL);
}

// bᵀ·(T + α·I)⁻¹·b for every column b of a size×m block and every shift α, from the LDLᵀ factors of each T + α·I
// (unit subdiagonal l and reciprocal pivots r, interleaved by shift: value i of shift s at i·shifts + s, so the inner
// loop over shifts runs on contiguous vectors): one forward substitution per column and shift.
typedef struct {
  int size, shifts;
  const double *l, *r, *b;
  double* out;
} Forms;

static void shiftedForms(const void* job, int from, int to) {
  const Forms* f = (const Forms*)job;
  const int size = f->size, shifts = f->shifts;
  double* g = (double*)malloc(sizeof(double) * (size_t)shifts);
  double* q = (double*)malloc(sizeof(double) * (size_t)shifts);
  for (int c = from; c < to; c++) {
    const double* col = f->b + (size_t)c * size;
    for (int s = 0; s < shifts; s++) {
      g[s] = col[0];
      q[s] = col[0] * col[0] * f->r[s];
    }
    for (int i = 1; i < size; i++) {
      const double x = col[i];
      const double* li = f->l + (size_t)i * shifts;
      const double* ri = f->r + (size_t)i * shifts;
      for (int s = 0; s < shifts; s++) {
        const double v = x - li[s] * g[s];
        g[s] = v;
        q[s] += v * v * ri[s];
      }
    }
    for (int s = 0; s < shifts; s++) f->out[(size_t)c * shifts + s] = q[s];
  }
  free(g);
  free(q);
}

// Rows rows[0..) of the row-major matrix x (float32 or float64, d columns).
typedef struct {
  int d, float32;
  const void* x;
  const int32_t* rows;
} Picked;

#define PICKED_ROW(p, r, body)                                                   \
  if ((p)->float32) {                                                            \
    const float* src = (const float*)(p)->x + (size_t)(p)->rows[r] * (p)->d;     \
    body                                                                         \
  } else {                                                                       \
    const double* src = (const double*)(p)->x + (size_t)(p)->rows[r] * (p)->d;   \
    body                                                                         \
  }

// Picked rows from..to, columns cols..colsEnd, each (x − mean)/sd, into the row-major block out.
typedef struct {
  Picked in;
  int cols, colsEnd;
  const double *mean, *sd;
  double* out;
} Standardize;

static void standardizeRows(const void* job, int from, int to) {
  const Standardize* s = (const Standardize*)job;
  const int w = s->colsEnd - s->cols;
  for (int r = from; r < to; r++) {
    double* o = s->out + (size_t)r * w - s->cols;
    PICKED_ROW(&s->in, r, for (int j = s->cols; j < s->colsEnd; j++) o[j] = ((double)src[j] - s->mean[j]) / s->sd[j];)
  }
}

// Mean and population sd (zero replaced by 1) of columns from..to over the first `count` picked rows: two passes,
// summing in row order as the JavaScript kernel does.
typedef struct {
  Picked in;
  int count;
  double *mean, *sd;
} Moments;

static void momentsOfColumns(const void* job, int from, int to) {
  const Moments* m = (const Moments*)job;
  double *mean = m->mean, *sd = m->sd;
  for (int j = from; j < to; j++) mean[j] = sd[j] = 0;
  for (int r = 0; r < m->count; r++) {
    PICKED_ROW(&m->in, r, for (int j = from; j < to; j++) mean[j] += src[j];)
  }
  for (int j = from; j < to; j++) mean[j] /= m->count;
  for (int r = 0; r < m->count; r++) {
    PICKED_ROW(&m->in, r, for (int j = from; j < to; j++) sd[j] += ((double)src[j] - mean[j]) * ((double)src[j] - mean[j]);)
  }
  for (int j = from; j < to; j++) {
    const double v = sqrt(sd[j] / m->count);
    sd[j] = v == 0 ? 1 : v;
  }
}

// Zᵀ·C for the picked rows standardized, Z = (X − mean)/sd, and a row-major count×m matrix C, columns from..to of
// the row-major d×m result: (Xᵀ·C − mean·(1ᵀ·C))/sd, reading each row of X once and writing no copy of it.
typedef struct {
  Picked in;
  int count, m;
  const double *mean, *sd, *c;
  double* out;
} Transposed;

static void transposedProduct(const void* job, int from, int to) {
  const Transposed* p = (const Transposed*)job;
  const int m = p->m;
  double* acc = p->out;
  double* sums = (double*)calloc((size_t)m, sizeof(double));
  for (size_t k = (size_t)from * m; k < (size_t)to * m; k++) acc[k] = 0;
  for (int r = 0; r < p->count; r++) {
    const double* cr = p->c + (size_t)r * m;
    for (int t = 0; t < m; t++) sums[t] += cr[t];
    if (m == 1) {
      const double c0 = cr[0];
      PICKED_ROW(&p->in, r, for (int j = from; j < to; j++) acc[j] += (double)src[j] * c0;)
    } else {
      PICKED_ROW(&p->in, r, for (int j = from; j < to; j++) for (int t = 0; t < m; t++) acc[(size_t)j * m + t] += (double)src[j] * cr[t];)
    }
  }
  for (int j = from; j < to; j++)
    for (int t = 0; t < m; t++) acc[(size_t)j * m + t] = (acc[(size_t)j * m + t] - p->mean[j] * sums[t]) / p->sd[j];
  free(sums);
}

// T (lower triangular k×k, leading dimension ldt) of the block reflector H = H(k)···H(1) whose vectors are stored
// backward and columnwise in v (rows×k, column j with its unit at row rows − k + j and zeros below): dlarft's result,
// but built from halves, T = [T1 0; −T2·(V2ᵀ·V1)·T1 T2], so that its O(rows·k²) work is in matrix products where
// dlarft's is in matrix-vector ones.
static void larftBackward(int rows, int k, const double* v, int lda, const double* tau, double* t, int ldt) {
  if (k <= 16) {
    dlarft_("B", "C", &rows, &k, v, &lda, tau, t, &ldt, 1, 1);
    return;
  }
  const int k1 = k / 2, k2 = k - k1, m0 = rows - k;
  const double one = 1, minusOne = -1;
  const double* v2 = v + (size_t)k1 * lda;
  double* t21 = t + k1;
  larftBackward(rows - k2, k1, v, lda, tau, t, ldt);
  larftBackward(rows, k2, v2, lda, tau + k1, t21 + (size_t)k1 * ldt, ldt);
  // V2ᵀ·V1 over the rows V1 reaches: the k1 rows where V1 is unit upper triangular, and the m0 rows above them.
  for (int j = 0; j < k1; j++)
    for (int i = 0; i < k2; i++) t21[i + (size_t)j * ldt] = v2[m0 + j + (size_t)i * lda];
  dtrmm_("R", "U", "N", "U", &k2, &k1, &one, v + m0, &lda, t21, &ldt, 1, 1, 1, 1);
  if (m0 > 0) dgemm_("T", "N", &k2, &k1, &m0, &one, v2, &lda, v, &lda, &one, t21, &ldt, 1, 1);
  dtrmm_("L", "L", "N", "N", &k2, &k1, &minusOne, t21 + (size_t)k1 * ldt, &ldt, t21, &ldt, 1, 1, 1, 1);
  dtrmm_("R", "L", "N", "N", &k2, &k1, &one, t, &ldt, t21, &ldt, 1, 1, 1, 1);
}

// C ← Q·C or Qᵀ·C (C column-major n×m) for the Q of dsytrd(UPLO = "U") in a (n×n, column-major, leading dimension
// lda) and tau: LAPACK's dormtr → dormql loop, but with blocks of `nb` reflectors where dormql takes at most 64, so nearly
// all the work is in dlarfb's matrix products.
static void ormtrBlocked(int trans, int n, int m, const double* a, int lda, const double* tau, double* c, int nb) {
  const int k = n - 1, nq = n - 1;
  if (k <= 0 || m <= 0) return;
  const double* a1 = a + lda;  // A(1, 2): the reflectors dormtr hands to dormql
  double* t = (double*)malloc(sizeof(double) * (size_t)nb * nb);
  double* work = (double*)malloc(sizeof(double) * (size_t)m * nb);
  // Q = H(k)···H(1): Q·C applies H(1) last, so blocks run forward for Q·C and backward for Qᵀ·C (dormql, SIDE = "L").
  const int forward = !trans;
  const int first = forward ? 0 : ((k - 1) / nb) * nb;
  for (int i = first; forward ? i < k : i >= 0; i += forward ? nb : -nb) {
    const int ib = k - i < nb ? k - i : nb;
    const int rows = nq - k + i + ib;
    larftBackward(rows, ib, a1 + (size_t)i * lda, lda, tau + i, t, ib);
    dlarfb_("L", trans ? "T" : "N", "B", "C", &rows, &m, &ib, a1 + (size_t)i * lda, &lda, t, &ib, c, &n, work, &m, 1, 1, 1, 1);
  }
  free(t);
  free(work);
}

#define A(i, j) a[(size_t)((j) - 1) * lda + (i) - 1]
// LAPACK's dorgql(m, n, k) with blocks of `nb` reflectors, where dorgql takes 32, and each block's own columns formed
// the same way with blocks a quarter the size rather than by dorg2l, one reflector at a time; t holds nb×nb and work
// n·nb values.
static void orgql(int m, int n, int k, double* a, int lda, const double* tau, int nb, double* t, double* work) {
  if (k <= 32 || nb < 8) {
    int info;
    dorg2l_(&m, &n, &k, a, &lda, tau, work, &info);
    return;
  }
  if (nb > k / 2) nb = k / 2;
  const int kk = ((k - 1) / nb) * nb;
  for (int j = 1; j <= n - kk; j++)
    for (int i = m - kk + 1; i <= m; i++) A(i, j) = 0;
  orgql(m - kk, n - kk, k - kk, a, lda, tau, nb / 4, t, work);
  for (int i = k - kk + 1; i <= k; i += nb) {
    const int ib = k - i + 1 < nb ? k - i + 1 : nb, rows = m - k + i + ib - 1, cols = n - k + i - 1;
    if (cols > 0) {
      larftBackward(rows, ib, &A(1, n - k + i), lda, tau + i - 1, t, nb);
      dlarfb_("L", "N", "B", "C", &rows, &cols, &ib, &A(1, n - k + i), &lda, t, &nb, a, &lda, work, &cols, 1, 1, 1, 1);
    }
    orgql(rows, ib, ib, &A(1, n - k + i), lda, tau + i - 1, nb / 4, t, work);
    for (int j = n - k + i; j < n - k + i + ib; j++)
      for (int l = rows + 1; l <= m; l++) A(l, j) = 0;
  }
}

// Q of dsytrd(UPLO = "U") formed over its reflectors in a (n×n, column-major, leading dimension lda): LAPACK's dorgtr.
static void formQ(int n, double* a, int lda, const double* tau, int nb) {
  // dorgtr: the reflectors one column to the left, the last row and column those of the identity.
  for (int j = 1; j < n; j++) {
    for (int i = 1; i < j; i++) A(i, j) = A(i, j + 1);
    A(n, j) = 0;
  }
  for (int i = 1; i < n; i++) A(i, n) = 0;
  A(n, n) = 1;
  const int k = n - 1;
  double* t = (double*)malloc(sizeof(double) * (size_t)nb * nb);
  double* work = (double*)malloc(sizeof(double) * (size_t)(k > 1 ? k : 1) * nb);
  orgql(k, k, k, a, lda, tau, nb, t, work);
  free(t);
  free(work);
}
#undef A

#define A(i, j) a[(size_t)(j) * lda + (i)]
// Rows row..row+k−1 of a, columns col..col+len−1, into the columns of v (len×k, column-major): vectors stored along
// rows, as `bandReduce` leaves its reflectors, in the contiguous columns LAPACK's factorizations and block reflectors
// run fastest on. Tiles keep the strided writes in cache.
static void rowsToColumns(const double* a, int lda, int row, int col, int k, int len, double* v) {
  const int tile = 64;
  for (int q0 = 0; q0 < len; q0 += tile)
    for (int q = q0; q < q0 + tile && q < len; q++)
      for (int r = 0; r < k; r++) v[(size_t)r * len + q] = A(row + r, col + q);
}

// The k columns of v (len rows) made unit lower trapezoidal, as a block of reflectors: zeros above the diagonal, ones on it.
static void unitLower(double* v, int len, int k) {
  for (int r = 0; r < k; r++) {
    for (int q = 0; q < r; q++) v[(size_t)r * len + q] = 0;
    v[(size_t)r * len + r] = 1;
  }
}

// LAPACK's dsytrd_sy2sb (UPLO = "U") with each panel's LQ factorization taken as the QR factorization of its transpose:
// the symmetric matrix in the upper triangle of a (column-major) reduced to a band of kd super-diagonals, B = Qᵀ·A·Q,
// with B in lower band storage in ab ((kd+1)×n: B(q, j) at j·(kd+1) + q − j) and Q's reflectors in LAPACK's layout
// (row i of a beyond the band, tau). LAPACK's own routine factors the panel's rows in place, reading every
// vector with a stride of lda, and is slower than dsytrd below n = 3,000; transposed into a contiguous block first,
// the panel runs as dgeqrf, and the whole at the speed of LAPACK's lower (column) form without its copy of the matrix.
static void bandReduce(int n, int kd, double* a, int lda, double* ab, double* tau) {
  const int ldab = kd + 1;
  const double one = 1, zero = 0, minusHalf = -0.5, minusOne = -1;
  int info, lwork = -1;
  double query;
  dgeqrf_(&n, &kd, a, &lda, tau, &query, &lwork, &info);
  double* work = workspace(query, &lwork);
  double* p = (double*)malloc(sizeof(double) * (size_t)n * kd);   // the panel transposed, then its reflectors V
  double* vt = (double*)malloc(sizeof(double) * (size_t)n * kd);  // V·T
  double* w = (double*)malloc(sizeof(double) * (size_t)n * kd);   // the two-sided update's W
  double* t = (double*)calloc((size_t)kd * kd, sizeof(double));
  double* s = (double*)malloc(sizeof(double) * (size_t)kd * kd);
  for (int i = 0; i < n - kd; i += kd) {
    const int pn = n - i - kd, pk = pn < kd ? pn : kd;
    rowsToColumns(a, lda, i, i + kd, kd, pn, p);
    dgeqrf_(&pn, &kd, p, &pn, tau + i, work, &lwork, &info);
    // The panel becomes Rᵀ (in the band) and, beyond it, the reflectors' rows.
    for (int c = 0; c < pn; c++)
      for (int r = 0; r < kd; r++) A(i + r, i + kd + c) = p[(size_t)r * pn + c];
    for (int j = i; j < i + pk; j++)
      for (int q = j; q <= j + kd; q++) ab[(size_t)j * ldab + q - j] = A(j, q);
    unitLower(p, pn, pk);
    // A22 ← A22 − V·Wᵀ − W·Vᵀ with W = A22·V·T − ½·V·(Tᵀ·Vᵀ·A22·V·T), as dsytrd_sy2sb's lower form does.
    dlarft_("F", "C", &pn, &pk, p, &pn, tau + i, t, &kd, 1, 1);
    dgemm_("N", "N", &pn, &pk, &pk, &one, p, &pn, t, &kd, &zero, vt, &pn, 1, 1);
    dsymm_("L", "U", &pn, &pk, &one, &A(i + kd, i + kd), &lda, vt, &pn, &zero, w, &pn, 1, 1);
    dgemm_("T", "N", &pk, &pk, &pn, &one, vt, &pn, w, &pn, &zero, s, &kd, 1, 1);
    dgemm_("N", "N", &pn, &pk, &pk, &minusHalf, p, &pn, s, &kd, &one, w, &pn, 1, 1);
    dsyr2k_("U", "N", &pn, &pk, &minusOne, p, &pn, w, &pn, &one, &A(i + kd, i + kd), &lda, 1, 1);
  }
  for (int j = n - kd > 0 ? n - kd : 0; j < n; j++)
    for (int q = j; q < n; q++) ab[(size_t)j * ldab + q - j] = A(j, q);
  free(work);
  free(p);
  free(w);
  free(vt);
  free(t);
  free(s);
}
#undef A

// C ← Q·C or Qᵀ·C (C column-major n×m) for the Q of `bandReduce` with kd super-diagonals: reflector j (of k = n − kd)
// acts on rows kd+j..n−1 and is stored along row j of a beyond the band, and Q = H(0)·H(1)···H(k−1). Each block of nb
// reflectors is copied into contiguous columns first, as `bandReduce` copies its panels, so that its triangular factor
// and products read contiguous vectors (LAPACK's dormlq reads each along a row, a stride of lda apart).
static void bandApply(int trans, int n, int m, int kd, const double* a, int lda, const double* tau, double* c, int nb) {
  const int k = n - kd;
  if (k <= 0 || m <= 0) return;
  double* v = (double*)malloc(sizeof(double) * (size_t)k * nb);
  double* t = (double*)malloc(sizeof(double) * (size_t)nb * nb);
  double* work = (double*)malloc(sizeof(double) * (size_t)m * nb);
  // Qᵀ·C applies H(0) first: blocks first to last, each as its transpose; Q·C the other way round.
  const int first = trans ? 0 : ((k - 1) / nb) * nb;
  for (int j0 = first; trans ? j0 < k : j0 >= 0; j0 += trans ? nb : -nb) {
    const int ib = k - j0 < nb ? k - j0 : nb, len = k - j0;
    rowsToColumns(a, lda, j0, kd + j0, ib, len, v);
    unitLower(v, len, ib);
    dlarft_("F", "C", &len, &ib, v, &len, tau + j0, t, &ib, 1, 1);
    dlarfb_("L", trans ? "T" : "N", "F", "C", &len, &m, &ib, v, &len, t, &ib, c + kd + j0, &n, work, &m, 1, 1, 1, 1);
  }
  free(v);
  free(t);
  free(work);
}

// For every shift s, (B + αₛ·I)⁻¹ applied to the count columns of rhs (column-major n×count), written to columns
// t·shifts + s of out (column-major n×(count·shifts)), for B in LAPACK's lower band storage: a band Cholesky
// factorization per shift.
static int bandSolve(int n, int kd, int shifts, int count, const double* ab, const double* alphas, const double* rhs, double* out) {
  const int ldab = kd + 1, ldb = n * shifts;
  double* f = (double*)malloc(sizeof(double) * (size_t)ldab * n);
  int info = 0;
  for (int s = 0; s < shifts && info == 0; s++) {
    memcpy(f, ab, sizeof(double) * (size_t)ldab * n);
    for (int j = 0; j < n; j++) f[(size_t)j * ldab] += alphas[s];
    dpbtrf_("L", &n, &kd, f, &ldab, &info, 1);
    if (info != 0) break;
    for (int t = 0; t < count; t++) memcpy(out + (size_t)(t * shifts + s) * n, rhs + (size_t)t * n, sizeof(double) * (size_t)n);
    dpbtrs_("L", &n, &kd, &count, f, &ldab, out + (size_t)s * n, &ldb, &info, 1);
  }
  free(f);
  return info;
}

// The square n×n matrix a transposed in place, in tiles so that the column walk stays in cache.
static void transposeSquare(int n, double* a) {
  const int tile = 32;
  for (int i0 = 0; i0 < n; i0 += tile)
    for (int j0 = i0; j0 < n; j0 += tile)
      for (int i = i0; i < i0 + tile && i < n; i++)
        for (int j = j0 == i0 ? i + 1 : j0; j < j0 + tile && j < n; j++) {
          const double t = a[(size_t)i * n + j];
          a[(size_t)i * n + j] = a[(size_t)j * n + i];
          a[(size_t)j * n + i] = t;
        }
}

static void execute(napi_env env, void* data) {
  (void)env;
  Call* c = (Call*)data;
  const int* i = c->ints;
  double** a = (double**)c->arrays;
  int info = 0, lwork;
  double query;
  pthread_mutex_lock(&lock);
  if (c->threads > 0) openblas_set_num_threads(c->threads);
  const int threads = c->threads > 0 ? c->threads : openblas_get_num_threads();
  switch (c->op) {
    case GEMM: {  // transA, transB, m, n, k, lda, ldb, ldc; alpha, beta; A, B, C
      dgemm_(flag(i[0], "T", "N"), flag(i[1], "T", "N"), &i[2], &i[3], &i[4], &c->doubles[0], a[0], &i[5], a[1], &i[6],
             &c->doubles[1], a[2], &i[7], 1, 1);
      break;
    }
    case SYRK: {  // upper, trans, n, k, lda, ldc; alpha, beta; A, C
      dsyrk_(flag(i[0], "U", "L"), flag(i[1], "T", "N"), &i[2], &i[3], &c->doubles[0], a[0], &i[4], &c->doubles[1], a[1], &i[5], 1, 1);
      break;
    }
    case SYTRD: {  // upper, n, lda; A, diag, off, tau
      lwork = -1;
      dsytrd_(flag(i[0], "U", "L"), &i[1], a[0], &i[2], a[1], a[2], a[3], &query, &lwork, &info, 1);
      double* work = workspace(query, &lwork);
      dsytrd_(flag(i[0], "U", "L"), &i[1], a[0], &i[2], a[1], a[2], a[3], work, &lwork, &info, 1);
      free(work);
      break;
    }
    case ORMTR: {  // right, upper, trans, m, n, lda, ldc; A, tau, C
      const char *side = flag(i[0], "R", "L"), *uplo = flag(i[1], "U", "L"), *trans = flag(i[2], "T", "N");
      lwork = -1;
      dormtr_(side, uplo, trans, &i[3], &i[4], a[0], &i[5], a[1], a[2], &i[6], &query, &lwork, &info, 1, 1, 1);
      double* work = workspace(query, &lwork);
      dormtr_(side, uplo, trans, &i[3], &i[4], a[0], &i[5], a[1], a[2], &i[6], work, &lwork, &info, 1, 1, 1);
      free(work);
      break;
    }
    case FORM_Q: {  // n, lda, nb; A, tau (dsytrd's, UPLO = "U"): Q over the reflectors, packed to leading dimension n and
                    // transposed, so that the first n² values of A read row-major are Q
      formQ(i[0], a[0], i[1], a[1], i[2]);
      for (int j = 1; j < i[0] && i[1] != i[0]; j++) memmove(a[0] + (size_t)j * i[0], a[0] + (size_t)j * i[1], sizeof(double) * (size_t)i[0]);
      transposeSquare(i[0], a[0]);
      break;
    }
    case POTRF: {  // upper, n, lda; A
      dpotrf_(flag(i[0], "U", "L"), &i[1], a[0], &i[2], &info, 1);
      break;
    }
    case POTRS: {  // upper, n, nrhs, lda, ldb; A, B
      dpotrs_(flag(i[0], "U", "L"), &i[1], &i[2], a[0], &i[3], a[1], &i[4], &info, 1);
      break;
    }
    case SHIFTED_FORMS: {  // size, m, shifts; l, r (interleaved by shift), B, out
      const Forms job = {i[0], i[2], a[0], a[1], a[2], a[3]};
      parallel(threads, i[1], shiftedForms, &job);
      break;
    }
    case ORMTR_BLOCKED: {  // trans, n, m, nb, lda; A, tau, C
      ormtrBlocked(i[0], i[1], i[2], a[0], i[4], a[1], a[2], i[3]);
      break;
    }
    case MOMENTS: {  // d, count, float32; x (Float32Array or Float64Array), rows (Int32Array), mean, sd
      const Moments job = {{i[0], i[2], c->arrays[0], (const int32_t*)c->arrays[1]}, i[1], a[2], a[3]};
      parallel(threads, i[0], momentsOfColumns, &job);
      break;
    }
    case TRANSPOSED_PRODUCT: {  // d, count, m, float32; x (Float32Array or Float64Array), rows (Int32Array), mean, sd, C, out
      const Transposed job = {{i[0], i[3], c->arrays[0], (const int32_t*)c->arrays[1]}, i[1], i[2], a[2], a[3], a[4], a[5]};
      parallel(threads, i[0], transposedProduct, &job);
      break;
    }
    case BAND_REDUCE: {  // n, lda, kd; A (the upper triangle column-major), AB, tau
      bandReduce(i[0], i[2], a[0], i[1], a[1], a[2]);
      break;
    }
    case BAND_APPLY: {  // trans, n, m, kd, lda, nb; A, tau, C
      bandApply(i[0], i[1], i[2], i[3], a[0], i[4], a[1], a[2], i[5]);
      break;
    }
    case BAND_SOLVE: {  // n, kd, shifts, count; AB, alphas, rhs, out
      info = bandSolve(i[0], i[1], i[2], i[3], a[0], a[1], a[2], a[3]);
      break;
    }
    case STANDARDIZE: {  // d, count, from, to, float32; x (Float32Array or Float64Array), rows (Int32Array), mean, sd, out
      const Standardize job = {{i[0], i[4], c->arrays[0], (const int32_t*)c->arrays[1]}, i[2], i[3], a[2], a[3], a[4]};
      parallel(threads, i[1], standardizeRows, &job);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  c->info = info;
}

static void complete(napi_env env, napi_status status, void* data) {
  Call* c = (Call*)data;
  napi_value result;
  if (status == napi_ok) {
    napi_create_int32(env, c->info, &result);
    napi_resolve_deferred(env, c->deferred, result);
  } else {
    napi_value message;
    napi_create_string_utf8(env, "linalg: the call was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_reject_deferred(env, c->deferred, result);
  }
  for (int k = 0; k < c->nArrays; k++) napi_delete_reference(env, c->refs[k]);
  napi_delete_async_work(env, c->work);
  free(c);
}

static napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

// call(op, threads, ints: Int32Array, doubles: Float64Array, arrays: Float64Array[]) -> Promise<info>; threads 0 keeps
// OpenBLAS's current count.
static napi_value call(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value all[5];
  napi_get_cb_info(env, info, &argc, all, NULL, NULL);
  if (argc != 5) return fail(env, "linalg.call: expected (op, threads, ints, doubles, arrays)");
  Call* c = (Call*)calloc(1, sizeof(Call));
  napi_get_value_int32(env, all[0], &c->op);
  napi_get_value_int32(env, all[1], &c->threads);
  napi_typedarray_type type;
  size_t length;
  void* raw;
  if (napi_get_typedarray_info(env, all[2], &type, &length, &raw, NULL, NULL) != napi_ok || type != napi_int32_array || length > MAX_INTS) {
    free(c);
    return fail(env, "linalg.call: ints must be an Int32Array of at most 12 values");
  }
  for (size_t k = 0; k < length; k++) c->ints[k] = ((int32_t*)raw)[k];
  if (napi_get_typedarray_info(env, all[3], &type, &length, &raw, NULL, NULL) != napi_ok || type != napi_float64_array || length > MAX_DOUBLES) {
    free(c);
    return fail(env, "linalg.call: doubles must be a Float64Array of at most 4 values");
  }
  for (size_t k = 0; k < length; k++) c->doubles[k] = ((double*)raw)[k];
  uint32_t count;
  napi_get_array_length(env, all[4], &count);
  if (count > MAX_ARRAYS) {
    free(c);
    return fail(env, "linalg.call: at most 6 arrays");
  }
  for (uint32_t k = 0; k < count; k++) {
    napi_value item;
    napi_get_element(env, all[4], k, &item);
    if (napi_get_typedarray_info(env, item, &type, &length, &raw, NULL, NULL) != napi_ok ||
        (type != napi_float64_array && type != napi_float32_array && type != napi_int32_array)) {
      for (int r = 0; r < c->nArrays; r++) napi_delete_reference(env, c->refs[r]);
      free(c);
      return fail(env, "linalg.call: every array must be a Float64Array, Float32Array or Int32Array");
    }
    c->arrays[k] = raw;
    napi_create_reference(env, item, 1, &c->refs[k]);
    c->nArrays++;
  }
  napi_value promise, name;
  napi_create_promise(env, &c->deferred, &promise);
  napi_create_string_utf8(env, "prefpipe.linalg", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, c, &c->work);
  napi_queue_async_work(env, c->work);
  return promise;
}

static napi_value describe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, config, threads;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config);
  napi_create_int32(env, openblas_get_num_threads(), &threads);
  napi_set_named_property(env, out, "config", config);
  napi_set_named_property(env, out, "threads", threads);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "call", NAPI_AUTO_LENGTH, call, NULL, &fn);
  napi_set_named_property(env, exports, "call", fn);
  napi_create_function(env, "describe", NAPI_AUTO_LENGTH, describe, NULL, &fn);
  napi_set_named_property(env, exports, "describe", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
