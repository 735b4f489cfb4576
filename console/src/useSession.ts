import { useSyncExternalStore } from 'react';
import { session, type Session } from './session';

export const useSession = (): Session | null => useSyncExternalStore(session.subscribe, session.get);
export const hasRole = (s: Session | null, role: string) => !!s?.roles.includes(role);
