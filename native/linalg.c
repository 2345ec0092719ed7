// Dense linear algebra from the system's OpenBLAS (BLAS and LAPACK) for stats/nativeKernels.ts. Every call runs on
// libuv's thread pool and settles a promise, so the event loop (progress lines, Ctrl-C) stays free during long
// factorizations. Matrices are column-major, as LAPACK wants them; the TypeScript side maps row-major onto that.
#include <node_api.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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
extern void dorgtr_(const char*, const int*, double*, const int*, const double*, double*, const int*, int*, size_t);
extern void dpotrf_(const char*, const int*, double*, const int*, int*, size_t);
extern void dpotrs_(const char*, const int*, const int*, const double*, const int*, double*, const int*, int*, size_t);
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char* openblas_get_config(void);

enum { GEMM, SYRK, SYTRD, ORMTR, ORGTR, POTRF, POTRS, SHIFTED_FORMS, STANDARDIZE, ORMTR_BLOCKED };

#define MAX_INTS 12
#define MAX_DOUBLES 4
#define MAX_ARRAYS 6

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

// bᵀ·(T + α·I)⁻¹·b for every column b of a size×m block and every shift α, from the LDLᵀ factors of each T + α·I
// (unit subdiagonal l and pivots d, `shifts` of them, each `size` long): one forward substitution per column and shift.
static void shiftedForms(int size, int m, int shifts, const double* l, const double* d, const double* b, double* out) {
  double* g = (double*)malloc(sizeof(double) * (size_t)shifts);
  double* q = (double*)malloc(sizeof(double) * (size_t)shifts);
  for (int c = 0; c < m; c++) {
    const double* col = b + (size_t)c * size;
    for (int s = 0; s < shifts; s++) {
      g[s] = col[0];
      q[s] = col[0] * col[0] / d[(size_t)s * size];
    }
    for (int i = 1; i < size; i++) {
      const double x = col[i];
      for (int s = 0; s < shifts; s++) {
        const double v = x - l[(size_t)s * size + i] * g[s];
        g[s] = v;
        q[s] += v * v / d[(size_t)s * size + i];
      }
    }
    for (int s = 0; s < shifts; s++) out[(size_t)c * shifts + s] = q[s];
  }
  free(g);
  free(q);
}

// Columns from..to of rows `rows[0..count)` of the row-major matrix x (float32 or float64, d columns), each
// (x − mean)/sd, into the row-major count×(to − from) block out.
static void standardize(int d, int count, int from, int to, int float32, const void* x, const int32_t* rows, const double* mean,
                        const double* sd, double* out) {
  const int w = to - from;
  for (int r = 0; r < count; r++) {
    double* o = out + (size_t)r * w - from;
    if (float32) {
      const float* src = (const float*)x + (size_t)rows[r] * d;
      for (int j = from; j < to; j++) o[j] = ((double)src[j] - mean[j]) / sd[j];
    } else {
      const double* src = (const double*)x + (size_t)rows[r] * d;
      for (int j = from; j < to; j++) o[j] = (src[j] - mean[j]) / sd[j];
    }
  }
}

// C ← Q·C or Qᵀ·C (C column-major n×m) for the Q of dsytrd(UPLO = "U") in a (n×n, column-major) and tau: LAPACK's
// dormtr → dormql loop, but with blocks of `nb` reflectors where dormql takes at most 64, so nearly all the work is in
// dlarfb's matrix products.
static void ormtrBlocked(int trans, int n, int m, const double* a, const double* tau, double* c, int nb) {
  const int k = n - 1, nq = n - 1;
  if (k <= 0 || m <= 0) return;
  const double* a1 = a + n;  // A(1, 2): the reflectors dormtr hands to dormql
  double* t = (double*)malloc(sizeof(double) * (size_t)nb * nb);
  double* work = (double*)malloc(sizeof(double) * (size_t)m * nb);
  // Q = H(k)···H(1): Q·C applies H(1) last, so blocks run forward for Q·C and backward for Qᵀ·C (dormql, SIDE = "L").
  const int forward = !trans;
  const int first = forward ? 0 : ((k - 1) / nb) * nb;
  for (int i = first; forward ? i < k : i >= 0; i += forward ? nb : -nb) {
    const int ib = k - i < nb ? k - i : nb;
    const int rows = nq - k + i + ib;
    dlarft_("B", "C", &rows, &ib, a1 + (size_t)i * n, &n, tau + i, t, &ib, 1, 1);
    dlarfb_("L", trans ? "T" : "N", "B", "C", &rows, &m, &ib, a1 + (size_t)i * n, &n, t, &ib, c, &n, work, &m, 1, 1, 1, 1);
  }
  free(t);
  free(work);
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
    case ORGTR: {  // upper, n, lda; A, tau
      lwork = -1;
      dorgtr_(flag(i[0], "U", "L"), &i[1], a[0], &i[2], a[1], &query, &lwork, &info, 1);
      double* work = workspace(query, &lwork);
      dorgtr_(flag(i[0], "U", "L"), &i[1], a[0], &i[2], a[1], work, &lwork, &info, 1);
      free(work);
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
    case SHIFTED_FORMS: {  // size, m, shifts; l, d, B, out
      shiftedForms(i[0], i[1], i[2], a[0], a[1], a[2], a[3]);
      break;
    }
    case ORMTR_BLOCKED: {  // trans, n, m, nb; A, tau, C
      ormtrBlocked(i[0], i[1], i[2], a[0], a[1], a[2], i[3]);
      break;
    }
    case STANDARDIZE: {  // d, count, from, to, float32; x (Float32Array or Float64Array), rows (Int32Array), mean, sd, out
      standardize(i[0], i[1], i[2], i[3], i[4], c->arrays[0], (const int32_t*)c->arrays[1], a[2], a[3], a[4]);
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
