build-cons/obj/policy/decision_json.o: policy/decision_json.c \
 policy/policy.h common/err.h
policy/policy.h:
common/err.h:
