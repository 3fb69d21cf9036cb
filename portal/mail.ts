// Outgoing mail behind one interface: the embedded default writes each message as an .eml file into <data dir>/outbox/, SMTP when configured.
import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTransport } from "nodemailer";
import type { Clock } from "../lib/clock.js";

export interface MailMessage {
  to: string;
  subject: string;
  /** Plain text only: nothing a user typed is ever interpreted as HTML. */
  text: string;
}

export interface MailTransport {
  send(msg: MailMessage): Promise<void>;
}

/** Writes RFC 5322 messages as `<outbox>/<time>-<seq>-<random>.eml` (written to a temp name, then renamed). */
export function createOutboxTransport(dir: string, from: string, clock: Clock): MailTransport {
  // A sequence number keeps names in sending order when the clock stands still (tests) or repeats.
  let seq = 0;
  return {
    async send(msg) {
      await mkdir(dir, { recursive: true });
      const now = clock.now();
      const id = `${now.toISOString().replace(/[:.]/g, "-")}-${String(seq++).padStart(6, "0")}-${randomBytes(4).toString("hex")}`;
      const header = (v: string) => v.replace(/[\r\n]+/g, " ");
      const body = [
        `From: ${header(from)}`,
        `To: ${header(msg.to)}`,
        `Subject: ${header(msg.subject)}`,
        `Date: ${now.toUTCString()}`,
        `Message-ID: <${id}@proxstack>`,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        msg.text.replace(/\r?\n/g, "\r\n"),
        "",
      ].join("\r\n");
      const tmp = join(dir, `.${id}.tmp`);
      await writeFile(tmp, body, { mode: 0o600 });
      await rename(tmp, join(dir, `${id}.eml`));
    },
  };
}

/** Sends through an SMTP server (`smtp://` or `smtps://` URL with credentials). */
export function createSmtpTransport(url: string, from: string): MailTransport {
  const transport = createTransport(url);
  return {
    async send(msg) {
      await transport.sendMail({ from, to: msg.to, subject: msg.subject, text: msg.text });
    },
  };
}
