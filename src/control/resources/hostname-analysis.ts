// POST containerApps/{name}/listCustomHostNameAnalysis?customHostname=…: what `az containerapp
// hostname bind` asks before binding a name. ACA checks DNS records (the asuid TXT record) to prove
// the name is the caller's; certgate is the operator's own gateway and checks no DNS, so the test
// passes for any valid host name no other app serves, and fails, saying why, otherwise.
import { normalizeHostname } from '../../model/hostnames.ts';
import { appId } from '../../model/resources.ts';
import { errors } from '../arm/errors.ts';
import { otherAppsHostNames } from './apps.ts';
import type { ArmRequest, ArmResponse, ControlContext } from './context.ts';

export async function customHostnameAnalysis(context: ControlContext, request: ArmRequest, subscription: string, group: string, name: string): Promise<ArmResponse> {
  if (request.method !== 'POST') throw errors.methodNotAllowed(request.method, request.pathname);
  const id = appId(subscription, group, name);
  if (!(await context.store.get(id))) throw errors.notFound('Microsoft.App/containerApps', name, group);
  const given = request.query.get('customHostname') ?? '';
  const hostname = normalizeHostname(given);
  if (!hostname) throw errors.invalidParameter(`The customHostname '${given}' is not a valid host name.`, 'customHostname');
  const conflict = (await otherAppsHostNames(context, id)).find((claim) => claim.hostname === hostname);
  return {
    status: 200,
    body: {
      hostName: hostname,
      isHostnameAlreadyVerified: conflict === undefined,
      customDomainVerificationTest: conflict === undefined ? 'Passed' : 'Failed',
      hasConflictOnManagedEnvironment: conflict !== undefined,
      ...(conflict ? { conflictingContainerAppResourceId: conflict.appId } : {}),
      cNameRecords: [],
      txtRecords: [],
      aRecords: [],
      alternateCNameRecords: [],
      alternateTxtRecords: [],
    },
  };
}
