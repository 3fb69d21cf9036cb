// Small accessible building blocks: labelled fields with their error, status badges, notices.
import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from "react";
import type { Instance } from "./logic.ts";

export function Field(props: {
  label: string;
  error?: string | undefined;
  hint?: ReactNode;
  children: (p: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ReactNode;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  const described = [props.hint ? hintId : undefined, props.error ? errId : undefined].filter(Boolean).join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children({ id, ...(described ? { "aria-describedby": described } : {}), ...(props.error ? { "aria-invalid": true } : {}) })}
      {props.hint ? (
        <div className="hint" id={hintId}>
          {props.hint}
        </div>
      ) : null}
      {props.error ? (
        <div className="error" id={errId} role="alert">
          {props.error}
        </div>
      ) : null}
    </div>
  );
}

export function TextField({
  label,
  error,
  hint,
  ...input
}: { label: string; error?: string | undefined; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <Field label={label} error={error} hint={hint}>
      {(a) => <input {...input} {...a} />}
    </Field>
  );
}

export function SelectField({
  label,
  error,
  hint,
  children,
  ...select
}: { label: string; error?: string | undefined; hint?: ReactNode } & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <Field label={label} error={error} hint={hint}>
      {(a) => (
        <select {...select} {...a}>
          {children}
        </select>
      )}
    </Field>
  );
}

const BADGE: Record<Instance["state"], string> = { provisioning: "Provisioning", running: "Running", stopped: "Stopped", error: "Error" };

export function StatusBadge({ state }: { state: Instance["state"] }) {
  return (
    <span className={`badge badge-${state}`} data-state={state}>
      {BADGE[state]}
    </span>
  );
}

export function Notice({ kind, children }: { kind: "info" | "warn" | "error"; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "info" ? "status" : "alert"}>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}
