import { z } from 'zod';
import * as R from '../../contract/schemas.js';
import { addApplication, addDestinationAs, listApplications, listDestinations, removeApplication, removeDestination, setDefaultDestination, showApplication, showDestination, updateDestinationAs, validateNamedDestination, validateSpec } from '../../../operations/index.js';
import { ApplicationBody, DestinationBody, DestinationPatch, RemoveApplicationQuery } from '../../contract/index.js';
import type { RouteTable } from '../http.js';

export function configRoutes(t: RouteTable): void {
  t.add({ method: 'GET', url: '/api/destinations', response: z.array(R.Destination), access: 'viewer', tag: 'destinations', summary: 'List destinations (secrets are never shown)', handler: async ({ core }) => listDestinations(core.env) });
  t.add({ method: 'GET', url: '/api/destinations/:name',
    response: R.Destination, access: 'viewer', tag: 'destinations', summary: 'One destination', handler: async ({ params, core }) => showDestination(core.env, params.name!) });

  t.add({
    method: 'POST',
    url: '/api/destinations',
    response: R.DestinationAdded,
    access: 'admin',
    tag: 'destinations',
    summary: 'Add a destination (optionally create the repository), validated step by step; secrets are sealed and write-only',
    body: DestinationBody,
    status: 201,
    async handler({ body, caller, core }) {
      return addDestinationAs(core.env, { name: body.name, location: body.location, password: { sealed: body.password }, init: !!body.init, makeDefault: !!body.default, skipValidation: !!body.skipValidation, ...(body.store ? { store: body.store } : {}) }, caller);
    },
  });

  t.add({
    method: 'PATCH',
    url: '/api/destinations/:name',
    response: R.DestinationAdded,
    access: 'admin',
    tag: 'destinations',
    summary: 'Change a destination\'s secrets (repository password, store credentials): validated with the new values first, write-only',
    body: DestinationPatch,
    async handler({ body, params, caller, core }) {
      return updateDestinationAs(core.env, params.name!, body, caller);
    },
  });

  t.add({
    method: 'POST',
    url: '/api/destinations/:name/validate',
    response: R.Validation,
    access: 'operator',
    tag: 'destinations',
    summary: 'Test a destination: open the repository, write, list, read back and delete a test object',
    handler: async ({ params, core }) => validateNamedDestination(core.env, params.name!),
  });

  t.add({
    method: 'POST',
    url: '/api/destinations/:name/default',
    response: R.Ack('default'),
    access: 'admin',
    tag: 'destinations',
    summary: 'Make a destination the default',
    handler: async ({ params, caller, core }) => setDefaultDestination(core.env, params.name!, caller),
  });

  t.add({
    method: 'DELETE',
    url: '/api/destinations/:name',
    response: R.Ack('removed'),
    access: 'admin',
    tag: 'destinations',
    summary: 'Forget a destination (its repository and data are not touched)',
    handler: async ({ params, caller, core }) => removeDestination(core.env, params.name!, caller),
  });

  t.add({
    method: 'GET',
    url: '/api/applications',
    response: z.array(R.Application),
    access: 'viewer',
    tag: 'applications',
    summary: 'List applications, with their components and license status',
    handler: async ({ core }) => listApplications(core.env),
  });

  t.add({
    method: 'GET',
    url: '/api/applications/:name',
    response: R.ApplicationDetail,
    access: 'viewer',
    tag: 'applications',
    summary: 'One application: its spec as written, parsed, and its license status',
    handler: async ({ params, core }) => showApplication(core.env, params.name!),
  });

  t.add({
    method: 'POST',
    url: '/api/applications/validate',
    response: R.SpecValidation,
    access: 'viewer',
    tag: 'applications',
    summary: 'Validate a spec without adding it: problems with line and column',
    body: ApplicationBody,
    async handler({ body }) {
      const r = await validateSpec(body.spec);
      return r.ok ? { ok: true, name: r.spec.metadata.name, version: r.spec.metadata.version } : { ok: false, problems: r.problems };
    },
  });

  t.add({
    method: 'POST',
    url: '/api/applications',
    response: R.ApplicationAdded,
    access: 'admin',
    tag: 'applications',
    summary: 'Add an application from its spec (replace: true to update one)',
    body: ApplicationBody,
    status: 201,
    async handler({ body, caller, core }) {
      return addApplication(core.env, body.spec, { replace: !!body.replace }, caller);
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/applications/:name',
    response: R.ApplicationRemoved,
    access: 'admin',
    tag: 'applications',
    summary: 'Remove an application (its snapshots stay); refused while schedules snapshot it, unless withSchedules=true removes them too',
    query: RemoveApplicationQuery,
    handler: async ({ params, query, caller, core }) => removeApplication(core.env, params.name!, { withSchedules: query.withSchedules === 'true' }, caller),
  });
}
