import { ConnectionBadge } from './components/connection.js';
import { Link, useRoute } from './lib/router.js';
import type { Route } from './lib/router.js';
import { JobView } from './views/job/job-view.js';
import { JobsView } from './views/jobs/jobs-view.js';
import { OverviewView } from './views/overview/overview-view.js';
import { SubmitView } from './views/submit/submit-view.js';
import { WorkersView } from './views/workers/workers-view.js';
import { SignInView } from './views/signin/signin-view.js';
import { TokensView } from './views/tokens/tokens-view.js';
import { SchedulesView } from './views/schedules/schedules-view.js';
import { WebhooksView } from './views/webhooks/webhooks-view.js';
import { signOut, useSession } from './lib/session.js';

const NAV = [
  { to: '/', label: 'Overview', views: ['overview'], admin: false },
  { to: '/jobs', label: 'Jobs', views: ['jobs', 'job'], admin: false },
  { to: '/workers', label: 'Workers', views: ['workers'], admin: false },
  { to: '/submit', label: 'Submit', views: ['submit'], admin: false },
  { to: '/schedules', label: 'Schedules', views: ['schedules'], admin: false },
  { to: '/tokens', label: 'Tokens', views: ['tokens'], admin: true },
  { to: '/webhooks', label: 'Webhooks', views: ['webhooks'], admin: true },
] as const;

export function App() {
  const route = useRoute();
  const session = useSession();
  const admin = session.state === 'signed-in' && session.principal.role === 'admin';
  return (
    <>
      <nav className="topbar">
        <Link to="/" className="brand">
          Drover
        </Link>
        {session.state === 'signed-in' &&
          NAV.filter((item) => admin || !item.admin).map((item) => (
            <Link
              key={item.to}
              to={item.to}
              className={(item.views as readonly string[]).includes(route.view) ? 'active' : ''}
            >
              {item.label}
            </Link>
          ))}
        <span className="spacer" />
        {session.state === 'signed-in' && (
          <span className="who" data-role={session.principal.role}>
            {session.principal.name} <span className="muted">({session.principal.role})</span>
            <button className="small" type="button" onClick={() => void signOut()}>
              Sign out
            </button>
          </span>
        )}
        <ConnectionBadge />
      </nav>
      <main>
        {session.state === 'signed-in' ? (
          <View route={route} />
        ) : session.state === 'signed-out' ? (
          <SignInView />
        ) : (
          <p className="empty">Signing in…</p>
        )}
      </main>
    </>
  );
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'overview':
      return <OverviewView />;
    case 'jobs':
      return <JobsView />;
    case 'job':
      return <JobView id={route.id} />;
    case 'workers':
      return <WorkersView />;
    case 'submit':
      return <SubmitView />;
    case 'tokens':
      return <TokensView />;
    case 'schedules':
      return <SchedulesView />;
    case 'webhooks':
      return <WebhooksView />;
    case 'not-found':
      return (
        <section className="view">
          <p className="empty">
            Nothing at {route.path}. <Link to="/jobs">See the jobs.</Link>
          </p>
        </section>
      );
  }
}
