// The web terminal: xterm.js over WebSocket /ws/terminal?ticket=… (a single-use ticket from POST /api/instances/:id/terminal), resized with the window.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useRef, useState } from "react";
import { useSession } from "../context.tsx";

export function TerminalPanel({ id, onClose }: { id: string; onClose: () => void }) {
  const s = useSession();
  const el = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState("connecting…");
  useEffect(() => {
    if (!el.current) return;
    const term = new Terminal({
      cursorBlink: true,
      fontSize: 14,
      convertEol: false,
      theme: { background: "#111", foreground: "#eee" },
      screenReaderMode: true,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el.current);
    fit.fit();
    let ws: WebSocket | undefined;
    let closed = false;
    const sendSize = () => {
      fit.fit();
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
    };
    const onResize = () => sendSize();
    window.addEventListener("resize", onResize);
    void (async () => {
      try {
        const t = await s.request<{ ticket: string; url: string }>("POST", `/api/instances/${id}/terminal`);
        if (closed) return;
        const proto = location.protocol === "https:" ? "wss:" : "ws:";
        ws = new WebSocket(`${proto}//${location.host}${t.url}`);
        ws.onopen = () => sendSize();
        ws.onmessage = (e) => {
          const m = JSON.parse(String(e.data)) as { type: string; data?: string; message?: string; exitCode?: number | null };
          if (m.type === "connected") {
            setStatus("connected");
            sendSize();
            term.focus();
          } else if (m.type === "data" && m.data !== undefined) term.write(m.data);
          else if (m.type === "error") setStatus(`error: ${m.message ?? "unknown"}`);
          else if (m.type === "disconnect") setStatus(`the shell ended${m.exitCode !== null && m.exitCode !== undefined ? ` (exit ${m.exitCode})` : ""}`);
        };
        ws.onclose = () => setStatus((st) => (st === "connected" || st === "connecting…" ? "disconnected" : st));
        term.onData((d) => {
          if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "input", data: d }));
        });
      } catch (err) {
        setStatus(`could not open: ${(err as Error).message}`);
      }
    })();
    return () => {
      closed = true;
      window.removeEventListener("resize", onResize);
      ws?.close();
      term.dispose();
    };
  }, [id, s]);
  return (
    <div className="terminal-wrap">
      <div className="row spread">
        <span role="status" data-testid="terminal-status">
          Terminal: {status}
        </span>
        <button type="button" className="secondary" onClick={onClose}>
          Close terminal
        </button>
      </div>
      <div ref={el} className="terminal" data-testid="terminal" />
    </div>
  );
}
