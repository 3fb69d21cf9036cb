// @vitest-environment happy-dom
// Sign-up in a DOM: labelled fields, the API's field errors next to their fields, and on success the way to the verify page.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { Session } from "../api.ts";
import { SessionContext } from "../context.tsx";
import { StatusBadge } from "../ui.tsx";
import { SignUpPage } from "./Auth.tsx";

afterEach(cleanup);

function storage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
}

function Where() {
  const l = useLocation();
  return <p data-testid="where">{l.pathname + l.search}</p>;
}

function renderSignUp(fetchImpl: typeof fetch) {
  const session = new Session(storage(), fetchImpl, () => 0);
  render(
    <SessionContext.Provider value={session}>
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter initialEntries={["/signup"]}>
          <Routes>
            <Route path="/signup" element={<SignUpPage />} />
            <Route path="/verify" element={<Where />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>
    </SessionContext.Provider>,
  );
}

describe("SignUpPage", () => {
  it("shows each API field error under its own labelled field, marked invalid", async () => {
    const sent: unknown[] = [];
    renderSignUp((async (_p: string, init?: RequestInit) => {
      sent.push(JSON.parse(String(init?.body)));
      return new Response(
        JSON.stringify({
          error: {
            code: "invalid-request",
            message: "the request body is invalid",
            fields: { password: "must be at least 10 characters", email: "must be an e-mail address such as alice@example.com" },
          },
        }),
        { status: 400 },
      );
    }) as typeof fetch);
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "dana" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "short" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign up" }));
    await waitFor(() => expect(screen.getAllByRole("alert")).toHaveLength(2));
    const password = screen.getByLabelText("Password");
    expect(password.getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById(password.getAttribute("aria-describedby")!.split(" ").at(-1)!)?.textContent).toBe("must be at least 10 characters");
    expect(screen.getByLabelText("Email").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("Name").getAttribute("aria-invalid")).toBeNull();
    expect(sent).toEqual([{ email: "dana", password: "short" }]);
  });

  it("goes on to the verify page with the address once the code is sent", async () => {
    renderSignUp((async () => new Response(JSON.stringify({ status: "verification-sent", email: "dana@example.com" }), { status: 201 })) as typeof fetch);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "Dana Scully" } });
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: " Dana@Example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "correct horse battery" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign up" }));
    await waitFor(() => expect(screen.getByTestId("where").textContent).toBe("/verify?email=dana%40example.com"));
  });
});

describe("StatusBadge", () => {
  it("says the state in words and carries it for styling and tests", () => {
    render(<StatusBadge state="provisioning" />);
    const b = screen.getByText("Provisioning");
    expect(b.getAttribute("data-state")).toBe("provisioning");
  });
});
