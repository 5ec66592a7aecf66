/** The drawn items of each Vega mark group of a type (`area`, `line`, `symbol`, `rule`, `text`), in order. */
export function markItems(svg: string, type: string): number[] {
  const re = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, 'gs');
  return [...svg.matchAll(re)].map((m) => (m[1]!.match(/<(path|line|text)\b/g) ?? []).length);
}
