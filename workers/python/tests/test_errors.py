"""Which refusals at hello are final: the worker stops rather than retrying into them."""

import unittest

from drover_worker.errors import RpcError, is_final_refusal


def refusal(code, retryable):
    return RpcError.from_wire(
        {"code": -32000, "message": "no", "data": {"code": code, "retryable": retryable}}
    )


class FinalRefusalTest(unittest.TestCase):
    def test_a_name_another_worker_holds_is_final_though_retryable(self):
        self.assertTrue(is_final_refusal(refusal("DROVER_E_CONFLICT", True)))

    def test_a_refused_token_is_final_unless_retryable(self):
        self.assertTrue(is_final_refusal(refusal("DROVER_E_UNAUTHORIZED", False)))
        self.assertTrue(is_final_refusal(refusal("DROVER_E_FORBIDDEN", False)))
        self.assertFalse(is_final_refusal(refusal("DROVER_E_UNAUTHORIZED", True)))

    def test_anything_else_is_tried_again(self):
        self.assertFalse(is_final_refusal(refusal("DROVER_E_UNAVAILABLE", True)))
        self.assertFalse(is_final_refusal(refusal("DROVER_E_INTERNAL", False)))


if __name__ == "__main__":
    unittest.main()
