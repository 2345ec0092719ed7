import { AbstractMatrix } from "ml-matrix"

/** A row-major matrix over a typed array (float32 activations are read without copying). */
export interface Dense {
  readonly data: Float64Array | Float32Array
  readonly rows: number
  readonly cols: number
}

/** Anything the numeric functions accept as a matrix: a Dense view, an ml-matrix matrix, or an array of equal-length rows. */
export type MatrixLike = Dense | AbstractMatrix | ReadonlyArray<ArrayLike<number>>

const isDense = (x: MatrixLike): x is Dense => !Array.isArray(x) && !AbstractMatrix.isMatrix(x) && (x as Dense).data !== undefined

/** Checks a matrix argument and returns it as a Dense view; `fn` and `arg` name the caller in errors. */
export const toDense = (x: MatrixLike, fn: string, arg: string): Dense => {
  if (AbstractMatrix.isMatrix(x)) return { data: Float64Array.from(x.to1DArray()), rows: x.rows, cols: x.columns }
  if (isDense(x)) {
    if (x.data.length !== x.rows * x.cols) throw new Error(`${fn}: ${arg} has ${x.data.length} values, expected ${x.rows}×${x.cols}`)
    return x
  }
  const rows = x as ReadonlyArray<ArrayLike<number>>
  const cols = rows.length === 0 ? 0 : rows[0]!.length
  const data = new Float64Array(rows.length * cols)
  rows.forEach((row, i) => {
    if (row.length !== cols) throw new Error(`${fn}: ${arg} row ${i} has ${row.length} values, expected ${cols}`)
    for (let j = 0; j < cols; j++) data[i * cols + j] = row[j]!
  })
  return { data, rows: rows.length, cols }
}

/** The listed rows of a matrix, copied into a new float64 matrix. */
export const selectRows = (x: Dense, rows: ArrayLike<number>): Dense => {
  const out = new Float64Array(rows.length * x.cols)
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r]! * x.cols
    for (let j = 0; j < x.cols; j++) out[r * x.cols + j] = x.data[src + j]!
  }
  return { data: out, rows: rows.length, cols: x.cols }
}
