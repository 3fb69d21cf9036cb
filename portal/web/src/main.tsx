// The web portal: router, query cache (invalidated by the live event stream), the session, and the page frame.
import "./styles.css";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, NavLink, Route, Routes, useLocation, useNavigate } from "react-router";
import { ApiError, Session } from "./api.ts";
import { SessionContext, useMode, useSession, useUser } from "./context.tsx";
import { startEvents, useLive } from "./events.ts";
import { AdminPage } from "./pages/Admin.tsx";
import { SignInPage, SignUpPage, VerifyPage } from "./pages/Auth.tsx";
import { CreateInstancePage } from "./pages/CreateInstance.tsx";
import { DashboardPage } from "./pages/Dashboard.tsx";
import { InstancePage } from "./pages/Instance.tsx";
import { PointsPage } from "./pages/Points.tsx";

const session = new Session();
const queries = new QueryClient({
  defaultOptions: {
    queries: { retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 2, refetchOnWindowFocus: true, staleTime: 5_000 },
  },
});

function SimulationBanner() {
  const mode = useMode();
  if (!mode?.simulation) return null;
  const which = [mode.providers.proxmox === "simulated" ? "Proxmox" : undefined, mode.providers.cloudflare === "simulated" ? "Cloudflare" : undefined]
    .filter(Boolean)
    .join(" and ");
  return (
    <div className="sim-banner" role="note">
      <strong>Simulation</strong> — {which} {which.includes(" and ") ? "are" : "is"} simulated on this installation: containers and hostnames are not real
      servers on the internet.
    </div>
  );
}

function Frame({ children }: { children: React.ReactNode }) {
  const user = useUser();
  const s = useSession();
  const navigate = useNavigate();
  const live = useLive();
  const signOut = async () => {
    await s.logout().catch(() => undefined);
    queries.clear();
    await navigate("/signin");
  };
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <SimulationBanner />
      <header className="top">
        <NavLink to="/" className="brand">
          proxstack
        </NavLink>
        {user ? (
          <nav aria-label="Main">
            <NavLink to="/" end>
              Dashboard
            </NavLink>
            <NavLink to="/create">New instance</NavLink>
            <NavLink to="/points">Points</NavLink>
            {user.role === "admin" ? <NavLink to="/admin">Admin</NavLink> : null}
            <span className={`live ${live ? "on" : ""}`} title={live ? "Live updates connected" : "Live updates reconnecting"}>
              {live ? "● Live" : "○ Offline"}
            </span>
            <button type="button" className="link" onClick={() => void signOut()}>
              Sign out
            </button>
          </nav>
        ) : (
          <nav aria-label="Main">
            <NavLink to="/signin">Sign in</NavLink>
            <NavLink to="/signup">Sign up</NavLink>
          </nav>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

function RequireUser({ children, admin }: { children: React.ReactNode; admin?: boolean }) {
  const user = useUser();
  const location = useLocation();
  if (!user) return <Navigate to="/signin" replace state={{ from: location.pathname }} />;
  if (admin && user.role !== "admin") return <Navigate to="/" replace />;
  return <>{children}</>;
}

function App() {
  const user = useUser();
  const [ready, setReady] = useState(false);
  useEffect(() => {
    void session.resume().finally(() => setReady(true));
  }, []);
  useEffect(() => (user ? startEvents(session, queries) : undefined), [user?.id]);
  if (!ready)
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  return (
    <Frame>
      <Routes>
        <Route path="/signin" element={<SignInPage />} />
        <Route path="/signup" element={<SignUpPage />} />
        <Route path="/verify" element={<VerifyPage />} />
        <Route
          path="/"
          element={
            <RequireUser>
              <DashboardPage />
            </RequireUser>
          }
        />
        <Route
          path="/create"
          element={
            <RequireUser>
              <CreateInstancePage />
            </RequireUser>
          }
        />
        <Route
          path="/instances/:id"
          element={
            <RequireUser>
              <InstancePage />
            </RequireUser>
          }
        />
        <Route
          path="/points"
          element={
            <RequireUser>
              <PointsPage />
            </RequireUser>
          }
        />
        <Route
          path="/admin"
          element={
            <RequireUser admin>
              <AdminPage />
            </RequireUser>
          }
        />
        <Route
          path="*"
          element={
            <p>
              There is no page here. <NavLink to="/">Back to the dashboard</NavLink>
            </p>
          }
        />
      </Routes>
    </Frame>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <SessionContext.Provider value={session}>
      <QueryClientProvider client={queries}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </SessionContext.Provider>
  </StrictMode>,
);
