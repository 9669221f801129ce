build-cons/obj/routerd/report.o: routerd/report.c routerd/report.h \
 policy/policy.h common/err.h common/alloc.h
routerd/report.h:
policy/policy.h:
common/err.h:
common/alloc.h:
