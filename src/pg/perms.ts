/** File permissions as PostgreSQL's tools meet them: can postgres create files in a directory? */

/**
 * Write and search permission for postgres on a directory, from its owner and mode bits (`stat %U %a`).
 * Group bits are not judged (the lab's directories are postgres's or root's); an unknown mode is
 * taken as writable, so only what was seen can warn.
 */
export function postgresMayWrite(st: { owner: string; mode?: number }): boolean {
  if (st.mode === undefined || Number.isNaN(st.mode)) return true;
  const bits = st.owner === 'postgres' ? (st.mode >> 6) & 7 : st.mode & 7;
  return (bits & 3) === 3;
}
