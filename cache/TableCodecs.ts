import * as arrow from "apache-arrow"
import * as parquet from "parquet-wasm/node"

/** Encodes an Arrow table as Parquet (zstd unless told otherwise); the bytes are deterministic for equal tables. */
export const encodeParquet = (table: arrow.Table, compression: "zstd" | "uncompressed" = "zstd"): Uint8Array => {
  const codec = compression === "zstd" ? parquet.Compression.ZSTD : parquet.Compression.UNCOMPRESSED
  const props = new parquet.WriterPropertiesBuilder().setCompression(codec).build()
  return parquet.writeParquet(parquet.Table.fromIPCStream(arrow.tableToIPC(table, "stream")), props)
}

/** Decodes Parquet bytes into an Arrow table. */
export const decodeParquet = (bytes: Uint8Array): arrow.Table =>
  arrow.tableFromIPC(parquet.readParquet(bytes).intoIPCStream())

/** Encodes an Arrow table as an Arrow IPC file (large float matrices: read back without row parsing). */
export const encodeIpc = (table: arrow.Table): Uint8Array => arrow.tableToIPC(table, "file")

/** Decodes an Arrow IPC file. */
export const decodeIpc = (bytes: Uint8Array): arrow.Table => arrow.tableFromIPC(bytes)
