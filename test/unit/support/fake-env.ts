/** An env as findEnv would return it (maestro .10, esclavo .11, esclavo2 .12…), for tests that only need its facts. */
import type { LabEnv } from '../../../src/env/env.js';
import { serverRoles } from '../../../src/env/naming.js';

export const fakeEnv = (pg: LabEnv['pg'], lab = 'wal-streaming', standbys = 1): LabEnv => ({
  name: 'alumno01', lab, pg, subnet: '10.213.7.0/24', created: '', image: '',
  servers: serverRoles(standbys).map((role, i) => ({ role, container: `c${i + 1}`, ip: `10.213.7.${10 + i}`, state: 'running' })),
});
