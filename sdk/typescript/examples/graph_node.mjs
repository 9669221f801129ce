// A LangGraph.js-style node: (state) => state update. It asks af before
// the model call, tries the decision's hops in order, and lets hop()
// report latency and success. No framework import: the same function is a
// node of a real StateGraph (graph.addNode("research", researchNode)).
//
// Run against a routerd (after `npm run build`):
//   AF_ROUTERD=http://127.0.0.1:8080 node examples/graph_node.mjs
import { Client, Denied } from "../dist/index.js";

const af = new Client({ url: process.env.AF_ROUTERD ?? "http://127.0.0.1:8080" });

async function callModel(model, region, prompt) {
  // your model client; here a stand-in answering after 20 ms
  await new Promise((r) => setTimeout(r, 20));
  return { text: `[${model}@${region}] ${prompt.slice(0, 30)}`, input_tokens: 1200, output_tokens: 380 };
}

export async function researchNode(state) {
  try {
    return await af.hop({
      workflow_id: state.workflowId, tenant: state.tenant, class: "research-agent",
      agent_role: "researcher", input_tokens: 1200, output_tokens: 400, needs: ["tools"],
      labels: { graph: "claims", node: "research" },
    }, async (h) => {
      let lastError;
      for (const hop of h.route.hops()) { // the primary, then each fallback
        try {
          const out = await callModel(hop.model, hop.region, state.question);
          h.called(hop);
          h.usage({ input_tokens: out.input_tokens, output_tokens: out.output_tokens });
          return { answer: out.text, decisionId: h.route.decisionId };
        } catch (e) {
          lastError = e;
        }
      }
      throw lastError;
    });
  } catch (e) {
    if (e instanceof Denied) return { answer: null, denied: e.code, retryable: e.retryable };
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const state = { workflowId: "wf-claim-88421", tenant: "claims-team", question: "what does the policy say about water damage?" };
  console.log(await researchNode(state));
  try {
    await af.outcome({ workflow_id: state.workflowId, tenant: state.tenant, class: "research-agent", outcome: "success" });
    console.log("outcome: success reported");
  } catch (e) {
    console.log(`outcome: ${e.name}: ${e.message}`); // an older routerd has no /v1/outcome
  }
}
