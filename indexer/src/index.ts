// Entry point bundled for the node: the one handler project.ts names.
export { handleBlock } from './mappings/block';
