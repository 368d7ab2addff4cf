/** The media type of a Content-Type header: `Application/JSON; charset=UTF-8` → `application/json`; undefined when absent or empty. */
export function mediaType(header: string | undefined): string | undefined {
  const m = (header ?? '').split(';')[0]?.trim().toLowerCase();
  return m || undefined;
}
