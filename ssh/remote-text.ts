// Text that came out of a container (stderr, stdout, file content) made safe to store and to print on an operator's terminal.

/** Longest remote text kept in a message, record or status reason. @default 2000 */
export const REMOTE_TEXT_MAX = 2000;

// Escape sequences first (so their parameters go with them), then any control character left.
const OSC = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?/g; // ESC ] … BEL or ST: window titles, clipboard writes (OSC 52), hyperlinks
const CSI = /\x1b\[[0-?]*[ -/]*[@-~]?/g; // ESC [ … final byte: colours, cursor moves, screen clears
const DCS_ETC = /\x1b[PX^_][^\x1b]*(?:\x1b\\)?/g; // DCS, SOS, PM, APC strings up to ST
const ESC_OTHER = /\x1b[ -/]*[0-~]?/g; // two- and three-byte escapes (charset switches, resets)
// C0 except tab and newline, DEL, C1 (8-bit CSI and friends), and bidirectional overrides that reorder what a reader sees.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Strips terminal escape sequences and control characters (tabs and newlines stay) and caps the length,
 * saying how much was cut: `…(+12345 characters cut)`.
 */
export function cleanRemoteText(text: string, max = REMOTE_TEXT_MAX): string {
  // Cap before the regexes too, so a huge input costs no more than a bounded one.
  const head = text.length > max * 4 ? text.slice(0, max * 4) : text;
  const clean = head.replace(OSC, "").replace(DCS_ETC, "").replace(CSI, "").replace(ESC_OTHER, "").replace(CONTROL, "");
  const cut = clean.length - max + (text.length - head.length);
  return cut > 0 ? `${clean.slice(0, max)}…(+${cut} characters cut)` : clean;
}
