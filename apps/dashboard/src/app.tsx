import { ConnectionBadge } from './components/connection.js';
import { Link, useRoute } from './lib/router.js';
import type { Route } from './lib/router.js';
import { JobView } from './views/job/job-view.js';
import { JobsView } from './views/jobs/jobs-view.js';
import { SubmitView } from './views/submit/submit-view.js';
import { WorkersView } from './views/workers/workers-view.js';

const NAV = [
  { to: '/jobs', label: 'Jobs', views: ['jobs', 'job'] },
  { to: '/workers', label: 'Workers', views: ['workers'] },
  { to: '/submit', label: 'Submit', views: ['submit'] },
] as const;

export function App() {
  const route = useRoute();
  return (
    <>
      <nav className="topbar">
        <Link to="/jobs" className="brand">
          Drover
        </Link>
        {NAV.map((item) => (
          <Link
            key={item.to}
            to={item.to}
            className={(item.views as readonly string[]).includes(route.view) ? 'active' : ''}
          >
            {item.label}
          </Link>
        ))}
        <span className="spacer" />
        <ConnectionBadge />
      </nav>
      <main>
        <View route={route} />
      </main>
    </>
  );
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'jobs':
      return <JobsView />;
    case 'job':
      return <JobView id={route.id} />;
    case 'workers':
      return <WorkersView />;
    case 'submit':
      return <SubmitView />;
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
