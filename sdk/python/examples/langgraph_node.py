"""A LangGraph-style graph node that asks af before each model call.

A node is a function from the graph state to a state update; this one
routes the hop, calls the model routerd chose (or its fallbacks, in
order), and lets the hop() block report latency and success. No LangGraph
import: the same function works as a node of a real StateGraph
(`graph.add_node("research", research_node)`).

Run against a routerd: AF_ROUTERD=http://127.0.0.1:8080 python3 langgraph_node.py
"""
import os
import time

from af_sdk import Client, Denied

af = Client(os.environ.get("AF_ROUTERD", "http://127.0.0.1:8080"))


class ModelError(Exception):
    pass


def call_model(model, region, prompt):
    """Your model client (OpenAI, Bedrock, vLLM, ...). Here: a stand-in
    that answers after 20 ms and counts tokens by words."""
    time.sleep(0.02)
    words = len(prompt.split())
    return {"text": f"[{model}@{region}] summary of {words} words",
            "input_tokens": words * 2, "output_tokens": 40}


def research_node(state):
    """One hop of the workflow `state["workflow_id"]`."""
    try:
        with af.hop(state["workflow_id"], state["tenant"], "research-agent",
                    agent_role="researcher", input_tokens=1200,
                    output_tokens=400, needs=["tools"],
                    labels={"graph": "claims", "node": "research"}) as h:
            for hop in h.route.hops():  # the primary, then each fallback
                try:
                    out = call_model(hop.model, hop.region, state["question"])
                    h.called(hop)
                    break
                except ModelError:
                    continue
            else:
                raise ModelError("every model of the decision failed")
            h.usage(out["input_tokens"], out["output_tokens"])
    except Denied as d:  # typed: FanoutCap, LaneSaturated, CostLimit, ...
        return {"answer": None, "denied": d.code, "retryable": d.retryable}
    return {"answer": out["text"], "decision_id": h.route.decision_id,
            "model": h.route.model, "latency_ms": h.latency_ms}


if __name__ == "__main__":
    state = {"workflow_id": "wf-claim-88421", "tenant": "claims-team",
             "question": "what does the policy say about water damage?"}
    print(research_node(state))
    try:
        af.outcome(state["workflow_id"], state["tenant"], "research-agent",
                   "success")
        print("outcome: success reported")
    except Exception as e:  # an older routerd has no /v1/outcome
        print(f"outcome: {type(e).__name__}: {e}")
