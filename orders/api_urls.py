from django.conf import settings
from django.urls import path

from orders import api, api_chat, api_payments
from orders.payments import SANDBOX_PROVIDER

urlpatterns = [
    path("products/", api.ProductListView.as_view(), name="api-products"),
    path("products/<int:pk>/", api.ProductDetailView.as_view(), name="api-product"),
    path("orders/", api.OrderListCreateView.as_view(), name="api-orders"),
    path("orders/<number:number>/", api.OrderDetailView.as_view(), name="api-order"),
    path("orders/<number:number>/pay/", api.OrderPayView.as_view(), name="api-order-pay"),
    path("orders/<number:number>/cancel/", api.OrderCancelView.as_view(), name="api-order-cancel"),
    path("orders/<number:number>/reveal/", api.OrderRevealView.as_view(), name="api-order-reveal"),
    path(
        "orders/<number:number>/messages/",
        api_chat.OrderMessagesView.as_view(),
        name="api-order-messages",
    ),
    path(
        "orders/<number:number>/messages/files/<int:file_id>/",
        api_chat.OrderMessageFileView.as_view(),
        name="api-order-message-file",
    ),
    path("merchant/", api.MerchantView.as_view(), name="api-merchant"),
    path("merchant/apply/", api.MerchantApplyView.as_view(), name="api-merchant-apply"),
    path("merchant/team/", api.MerchantTeamView.as_view(), name="api-merchant-team"),
    path(
        "merchant/team/<int:pk>/",
        api.MerchantTeamMemberView.as_view(),
        name="api-merchant-team-member",
    ),
    path(
        "merchant/products/",
        api.MerchantProductListCreateView.as_view(),
        name="api-merchant-products",
    ),
    path(
        "merchant/products/<int:pk>/card-keys/",
        api.CardKeyImportView.as_view(),
        name="api-merchant-card-keys",
    ),
    path("merchant/orders/", api.MerchantOrderListView.as_view(), name="api-merchant-orders"),
    # The real channels' payment notices (docs/payments.md): a 404 while the channel is not
    # in PAYMENT_CHANNELS.
    path(
        "payments/alipay/notify/",
        api_payments.alipay_notify,
        name="api-payments-alipay-notify",
    ),
    path(
        "payments/wechatpay/notify/",
        api_payments.wechatpay_notify,
        name="api-payments-wechatpay-notify",
    ),
    # WeChat Pay 消费者投诉 2.0: register it as the complaint notification URL
    # (docs/channel-complaints.md).
    path(
        "payments/wechatpay/complaints/notify/",
        api_payments.wechatpay_complaint_notify,
        name="api-payments-wechatpay-complaint-notify",
    ),
    # Alipay 交易投诉: the app's gateway URL for alipay.merchant.tradecomplain.changed.
    path(
        "payments/alipay/complaints/notify/",
        api_payments.alipay_complaint_notify,
        name="api-payments-alipay-complaint-notify",
    ),
    path(
        "staff/merchants/<int:pk>/verify/",
        api.StaffMerchantVerifyView.as_view(),
        name="api-staff-merchant-verify",
    ),
    path(
        "staff/merchants/<int:pk>/reject/",
        api.StaffMerchantRejectView.as_view(),
        name="api-staff-merchant-reject",
    ),
    path(
        "staff/merchants/<int:pk>/suspend/",
        api.StaffMerchantSuspendView.as_view(),
        name="api-staff-merchant-suspend",
    ),
    path(
        "staff/merchants/<int:pk>/unsuspend/",
        api.StaffMerchantUnsuspendView.as_view(),
        name="api-staff-merchant-unsuspend",
    ),
]

# The sandbox's payment callback pays an order on a signature alone. It exists only while the
# sandbox is the payment provider: with a real gateway configured the URL is a 404, so no
# sandbox payment can ever reach a real shop (docs/security/secrets-and-deploy.md).
if settings.PAYMENT_PROVIDER == SANDBOX_PROVIDER:
    urlpatterns.append(
        path(
            "payments/sandbox/callback/",
            api.SandboxCallbackView.as_view(),
            name="api-payments-sandbox-callback",
        )
    )
