// TEMPORARY: replaced by src/secrets/scrubber.ts (helper S).
export class SecretScrubber {
  private readonly secrets = new Set<string>();
  add(secret: string): void {
    if (secret.length >= 4) this.secrets.add(secret);
  }
  text(s: string): string {
    let out = s;
    for (const secret of this.secrets) out = out.split(secret).join("[redacted]");
    return out;
  }
  value<T>(v: T): T {
    if (this.secrets.size === 0) return v;
    return JSON.parse(this.text(JSON.stringify(v) ?? "null")) as T;
  }
}
