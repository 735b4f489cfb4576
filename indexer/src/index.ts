// Entry point bundled for the node: the handler project.ts names.
export { handleLog } from './mappings/block';
