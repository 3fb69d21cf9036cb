// Sign up, verify the e-mail with the mailed code, sign in. API errors appear next to the field they concern.
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router";
import { fieldError, formError } from "../api.ts";
import { useSession } from "../context.tsx";
import { Notice, TextField } from "../ui.tsx";

export function SignInPage() {
  const s = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [params] = useSearchParams();
  const [email, setEmail] = useState(params.get("email") ?? "");
  const [password, setPassword] = useState("");
  const m = useMutation({
    mutationFn: () => s.login(email, password),
    onSuccess: () => void navigate((location.state as { from?: string } | null)?.from ?? "/"),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    m.mutate();
  };
  const err = m.error;
  const notVerified = err && "code" in err && err.code === "email-not-verified";
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      {params.get("verified") ? <Notice kind="info">Your e-mail is verified. Sign in to start.</Notice> : null}
      <form onSubmit={submit} noValidate>
        <TextField
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={fieldError(err, "email")}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fieldError(err, "password")}
        />
        {formError(err, ["email", "password"]) ? (
          <Notice kind="error">
            {formError(err, ["email", "password"])}
            {notVerified ? (
              <>
                {" "}
                — <Link to={`/verify?email=${encodeURIComponent(email)}`}>enter your code</Link>
              </>
            ) : null}
          </Notice>
        ) : null}
        <button type="submit" disabled={m.isPending}>
          Sign in
        </button>
      </form>
      <p>
        New here? <Link to="/signup">Create an account</Link>.
      </p>
    </section>
  );
}

export function SignUpPage() {
  const s = useSession();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const m = useMutation({
    mutationFn: () => s.request("POST", "/api/auth/register", { email, password, ...(name.trim() ? { name } : {}) }, { auth: false }),
    onSuccess: () => void navigate(`/verify?email=${encodeURIComponent(email.trim().toLowerCase())}`),
  });
  const err = m.error;
  return (
    <section className="narrow">
      <h1>Sign up</h1>
      <p>You get a welcome balance of points; instances spend points per day while they exist.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          m.mutate();
        }}
        noValidate
      >
        <TextField
          label="Name"
          autoComplete="name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={fieldError(err, "name")}
          hint="Your stack file is named after it, e.g. dana-scully."
        />
        <TextField
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={fieldError(err, "email")}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fieldError(err, "password")}
          hint="At least 10 characters; a passphrase is best."
        />
        {formError(err, ["email", "password", "name"]) ? <Notice kind="error">{formError(err, ["email", "password", "name"])}</Notice> : null}
        <button type="submit" disabled={m.isPending}>
          Sign up
        </button>
      </form>
      <p>
        Have an account? <Link to="/signin">Sign in</Link>.
      </p>
    </section>
  );
}

export function VerifyPage() {
  const s = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState(params.get("email") ?? "");
  const [code, setCode] = useState("");
  const m = useMutation({
    mutationFn: () => s.request("POST", "/api/auth/verify-email", { email, code: code.trim() }, { auth: false }),
    onSuccess: () => void navigate(`/signin?verified=1&email=${encodeURIComponent(email)}`),
  });
  const resend = useMutation({ mutationFn: () => s.request("POST", "/api/auth/resend-verification", { email }, { auth: false }) });
  const err = m.error;
  return (
    <section className="narrow">
      <h1>Verify your e-mail</h1>
      <p>We sent a 6-digit code to your address.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          m.mutate();
        }}
        noValidate
      >
        <TextField
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={fieldError(err, "email")}
        />
        <TextField
          label="Code"
          inputMode="numeric"
          autoComplete="one-time-code"
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
          error={fieldError(err, "code") ?? (err && "code" in err && err.code === "invalid-code" ? err.message : undefined)}
        />
        {formError(err, ["email", "code"]) && !(err && "code" in err && err.code === "invalid-code") ? (
          <Notice kind="error">{formError(err, ["email", "code"])}</Notice>
        ) : null}
        <div className="row">
          <button type="submit" disabled={m.isPending}>
            Verify
          </button>
          <button type="button" className="secondary" onClick={() => resend.mutate()} disabled={resend.isPending || !email}>
            Send a new code
          </button>
        </div>
        {resend.isSuccess ? <Notice kind="info">A new code is on its way.</Notice> : null}
      </form>
    </section>
  );
}
