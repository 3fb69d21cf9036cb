// Create an instance: template and plan pickers with prices and the new burn rate, the name checked as you type,
// the runway check explained before the request (the API makes the same check and answers 402).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { fieldError, formError } from "../api.ts";
import { useMode, useSession, useUser } from "../context.tsx";
import { formatPoints, instanceNameProblem, runwayCheck } from "../logic.ts";
import { useInstances, usePlans, usePoints, useTemplates } from "../queries.ts";
import { Field, Loading, Notice, SelectField, TextField } from "../ui.tsx";

export function CreateInstancePage() {
  const s = useSession();
  const user = useUser();
  const mode = useMode();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const plans = usePlans();
  const templates = useTemplates();
  const points = usePoints();
  const instances = useInstances();
  const [name, setName] = useState("");
  const [touched, setTouched] = useState(false);
  const [template, setTemplate] = useState("");
  const [plan, setPlan] = useState("");
  const [sshKey, setSshKey] = useState("");
  const firstInstance = instances.data?.total === 0;
  const m = useMutation({
    mutationFn: () =>
      s.request<{ id: string }>("POST", "/api/instances", {
        name,
        template: template || templates.data?.items[0]?.name,
        plan: plan || plans.data?.items[0]?.name,
        ...(sshKey.trim()
          ? {
              sshKeys: sshKey
                .split("\n")
                .map((k) => k.trim())
                .filter(Boolean),
            }
          : {}),
      }),
    onSuccess: async (r) => {
      await qc.invalidateQueries({ queryKey: ["instances"] });
      await navigate(`/instances/${r.id}`);
    },
  });
  if (!plans.data || !templates.data || !points.data || !instances.data || !mode) return <Loading what="the catalog" />;
  const chosenPlan = plans.data.items.find((p) => p.name === (plan || plans.data.items[0]?.name));
  const nameProblem = instanceNameProblem(
    name,
    instances.data.items.map((i) => i.name),
  );
  const check = runwayCheck(points.data, chosenPlan?.pointsPerDay ?? 0, mode.runwayHours, user?.role === "admin");
  const err = m.error;
  return (
    <section className="narrow wide-ok">
      <h1>Create instance</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          if (!nameProblem && check.ok) m.mutate();
        }}
        noValidate
      >
        <TextField
          label="Name"
          value={name}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => {
            setName(e.target.value);
            setTouched(true);
          }}
          error={(touched ? nameProblem : undefined) ?? fieldError(err, "name")}
          hint={!nameProblem && name ? `Your instance will be ${user?.stack ?? "you"}.${name}.` : "Lower-case letters, digits and '-'."}
        />
        <SelectField
          label="Template"
          value={template || templates.data.items[0]?.name}
          onChange={(e) => setTemplate(e.target.value)}
          error={fieldError(err, "template")}
        >
          {templates.data.items.map((t) => (
            <option key={t.name} value={t.name}>
              {t.description}
            </option>
          ))}
        </SelectField>
        <Field label="Plan" error={fieldError(err, "plan")}>
          {(a) => (
            <select {...a} value={plan || plans.data.items[0]?.name} onChange={(e) => setPlan(e.target.value)}>
              {plans.data.items.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name} — {p.cores} core(s), {p.memoryMiB} MiB, {p.diskGiB} GiB — {formatPoints(p.pointsPerDay)} points/day
                </option>
              ))}
            </select>
          )}
        </Field>
        {firstInstance ? (
          <Field
            label="SSH public key"
            error={fieldError(err, "sshKeys") ?? fieldError(err, "sshKeys.0")}
            hint="Your first instance creates your stack file; it needs at least one key (one per line), e.g. the contents of ~/.ssh/id_ed25519.pub."
          >
            {(a) => <textarea {...a} rows={3} value={sshKey} onChange={(e) => setSshKey(e.target.value)} spellCheck={false} />}
          </Field>
        ) : null}
        <div className="card inset" aria-live="polite">
          <h2 className="h3">What it costs</h2>
          <p>
            {chosenPlan ? `${chosenPlan.name}: ${formatPoints(chosenPlan.pointsPerDay)} points/day.` : null} Your burn goes from{" "}
            {formatPoints(points.data.burnPerDay)} to <strong>{formatPoints(check.newBurnPerDay)} points/day</strong>.
          </p>
          <p className={check.ok ? "muted" : "error"} data-testid="runway">
            {check.text}
          </p>
          <p className="muted small">Before any change that raises your burn, proxstack checks you have points for {mode.runwayHours} hours at the new rate.</p>
        </div>
        {formError(err, ["name", "template", "plan", "sshKeys", "sshKeys.0"]) ? (
          <Notice kind="error">{formError(err, ["name", "template", "plan", "sshKeys", "sshKeys.0"])}</Notice>
        ) : null}
        <button type="submit" disabled={m.isPending || !check.ok}>
          Create instance
        </button>
      </form>
    </section>
  );
}
