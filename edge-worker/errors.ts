/** The error shape of the whole public API: `{ "error": { "code": "…", "message": "…" } }` (DESIGN §5). */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string }
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } }
}
