"""Fault rules on a store several processes share (PostgreSQL).

The rules live in the database; each process keeps a copy to match requests against without a
round trip, reloaded whenever any process adds or removes a rule (``NOTIFY``; within milliseconds).
A matching rule fires only after the database granted the firing: one ``UPDATE ... WHERE fired <
times RETURNING`` per firing, so a rule limited to N firings (``times``) fires exactly N times in
total, however many processes match it at once. Listing rules reads them from the database, so the
``fired`` counts shown are totals. A rule's ``probability`` is drawn in each process from the rule's
seed, so the sequence of hits repeats with one worker only.
"""

from __future__ import annotations

from ..clock import Clock
from ..domain.faults import FaultRule, FaultRuleError, FaultSet, check, new_rule
from ..store.base import SharedStore


class SharedFaultSet(FaultSet):
    def __init__(self, clock: Clock, store: SharedStore):
        super().__init__(clock)
        self.store = store
        self.reload()
        store.watch_faults(lambda _payload: self.reload())

    def reload(self) -> None:
        """Take the rules from the database; a rule already known keeps its random sequence."""
        records = self.store.list_fault_rules()
        with self._lock:
            known = {r.id: r for r in self._rules}
            rules = []
            for record in records:
                rule = known.get(record["id"])
                if rule is None or rule.created_at != record["created_at"]:
                    rule = new_rule(check(record["raw"]), record["id"], record["created_at"])
                rule.fired = max(rule.fired, record["fired"])
                rules.append(rule)
            self._rules = rules

    def add(self, given: object) -> FaultRule:
        raw = check(given)
        now = self.clock.now()
        rule_id = self.store.add_fault_rule(raw.get("id"), dict(raw), raw.get("tenant"), raw.get("times"), now)
        if rule_id is None:
            raise FaultRuleError([f"id: a fault rule '{raw.get('id')}' already exists"])
        rule = new_rule(raw, rule_id, now)
        with self._lock:  # in force here at once; the other processes load it on the notice
            if all(r.id != rule_id for r in self._rules):
                self._rules.append(rule)
        return rule

    def _fire(self, rule: FaultRule) -> bool:
        if rule.probability < 1.0 and rule.rng.random() >= rule.probability:
            return False
        fired = self.store.fire_fault_rule(rule.id)
        if fired is None:  # used up by other processes, or removed
            rule.fired = rule.times if rule.times is not None else rule.fired
            return False
        rule.fired = max(rule.fired, fired)
        return True

    def list(self) -> list[dict[str, object]]:
        self.reload()  # firing counts of every process
        return super().list()

    def get(self, rule_id: str) -> dict[str, object] | None:
        self.reload()
        return super().get(rule_id)

    def remove(self, rule_id: str) -> bool:
        removed = self.store.remove_fault_rules(rule_id=rule_id) > 0
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]
        return removed

    def clear(self, tenant_id: str | None = None) -> int:
        removed = self.store.remove_fault_rules(tenant_id=tenant_id)
        with self._lock:
            self._rules = [r for r in self._rules if tenant_id is not None and r.tenant != tenant_id]
        return removed
