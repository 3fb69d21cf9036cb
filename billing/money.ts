// Points as integers: 1 point = 1,000,000 micro-points, held in BigInt; decimal text in and out, never a float in between.
import { ProxstackError } from "../lib/errors.js";

export const MICRO_PER_POINT = 1_000_000n;
export const MINUTES_PER_DAY = 1440n;
export const SECONDS_PER_DAY = 86_400n;

/**
 * Micro-points of a decimal amount of points given as text or as a number from a parsed file
 * (read through its shortest decimal form, so 0.1 is exactly 100,000). More than six decimals is refused.
 * @example pointsToMicro("12.5") // → 12_500_000n
 */
export function pointsToMicro(points: string | number): bigint {
  const text = typeof points === "number" ? numberText(points) : points.trim();
  const m = /^([+-])?(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new ProxstackError("points-invalid", `'${text}' is not an amount of points such as 12 or -0.5`, { kind: "stall", status: 400 });
  const frac = m[3] ?? "";
  if (frac.replace(/0+$/, "").length > 6) {
    throw new ProxstackError("points-invalid", `'${text}' has more than six decimals; the smallest amount is 0.000001 points`, { kind: "stall", status: 400 });
  }
  const micro = BigInt(m[2] ?? "0") * MICRO_PER_POINT + BigInt((frac + "000000").slice(0, 6));
  return m[1] === "-" ? -micro : micro;
}

/** Decimal text of micro-points, without trailing zeros: 12_500_000n → "12.5". */
export function microToPoints(micro: bigint): string {
  const neg = micro < 0n;
  const abs = neg ? -micro : micro;
  const whole = abs / MICRO_PER_POINT;
  const frac = (abs % MICRO_PER_POINT).toString().padStart(6, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? "." + frac : ""}`;
}

/** Floor division for non-negative numerators and positive divisors (BigInt division truncates). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/**
 * floor(a × b / d) for non-negative safe integers, exactly: integer arithmetic on numbers while the
 * product stays below 2^53 (with the quotient corrected by its remainder), BigInt beyond.
 * Throws when the result itself is not a safe integer.
 */
export function mulDivFloor(a: number, b: number, d: number): number {
  const p = a * b;
  if (p <= Number.MAX_SAFE_INTEGER) {
    let q = Math.floor(p / d);
    const r = p - q * d;
    if (r < 0) q -= 1;
    else if (r >= d) q += 1;
    return q;
  }
  const q = (BigInt(a) * BigInt(b)) / BigInt(d);
  if (q > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ProxstackError("points-overflow", `a charge of ${q} micro-points is beyond what billing handles`, { kind: "bug" });
  return Number(q);
}

/** A rate or amount that must be a non-negative safe integer of micro-points, as a number. */
export function safeMicro(v: bigint): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProxstackError("points-overflow", `${v} micro-points is out of range`, { kind: "stall" });
  return Number(v);
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new ProxstackError("points-invalid", `${n} is not an amount of points`, { kind: "stall" });
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // Exponent forms (1e-7, 1e21): expand without going through floating-point arithmetic.
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/i.exec(s);
  if (!m) return s;
  const digits = (m[2] ?? "") + (m[3] ?? "");
  const point = 1 + Number(m[4]);
  const body =
    point <= 0
      ? "0." + "0".repeat(-point) + digits
      : point >= digits.length
        ? digits + "0".repeat(point - digits.length)
        : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (m[1] ?? "") + body;
}
