// Quoting for the command lines gue records (results.json, report headers): a word that a POSIX shell reads
// as itself is left as it is; anything else is single-quoted.
export function shellArg(v: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
