// The pipeline graph: resources feed the jobs that get them without `passed`, and each `passed` job feeds
// the job that names it; laid out left to right by dagre (a layered-graph layout, not hand-rolled).

import { Graph, layout, type EdgeLabel, type GraphLabel, type NodeLabel } from '@dagrejs/dagre';
import type { JobSummary, ResourceSummary } from '../../hub/api/types.js';

export interface GraphNode {
  id: string;
  kind: 'job' | 'resource';
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface PipelineGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  width: number;
  height: number;
}

const CHAR_PX = 7.5;
const jobId = (name: string) => `job:${name}`;
const resourceId = (name: string) => `resource:${name}`;

export function pipelineGraph(jobs: JobSummary[], resources: ResourceSummary[]): PipelineGraph {
  const g = new Graph<GraphLabel, NodeLabel, EdgeLabel>();
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 48, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const size = (label: string, min: number) => ({
    width: Math.max(min, label.length * CHAR_PX + 20),
    height: 28,
  });
  const used = new Set<string>();
  for (const job of jobs)
    for (const input of job.inputs) {
      if (input.passed.length === 0) used.add(input.resource);
    }
  for (const r of resources) if (used.has(r.name)) g.setNode(resourceId(r.name), size(r.name, 60));
  for (const job of jobs) g.setNode(jobId(job.name), size(job.name, 90));
  for (const job of jobs)
    for (const input of job.inputs) {
      const sources = input.passed.length === 0 ? [resourceId(input.resource)] : input.passed.map(jobId);
      for (const from of sources) if (g.hasNode(from)) g.setEdge(from, jobId(job.name));
    }
  layout(g);
  const nodes = g.nodes().map((id): GraphNode => {
    const n = g.node(id);
    // After layout(), x and y are each node's centre.
    return {
      id,
      kind: id.startsWith('job:') ? 'job' : 'resource',
      label: id.slice(id.indexOf(':') + 1),
      x: (n.x ?? 0) - n.width / 2,
      y: (n.y ?? 0) - n.height / 2,
      width: n.width,
      height: n.height,
    };
  });
  const edges = g.edges().map((e): GraphEdge => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] }));
  const { width = 0, height = 0 } = g.graph();
  return { nodes, edges, width, height };
}
