/** Error raised for a malformed, truncated or unsupported tensor file; the message starts with the file name. */
export class TensorFileError extends Error {
  /** The file (or source) name the error is about. */
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = "TensorFileError";
    this.file = file;
  }
}
