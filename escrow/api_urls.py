from django.urls import path

from escrow import api

urlpatterns = [
    path("merchant/deposit/", api.DepositView.as_view(), name="api-deposit"),
    path(
        "merchant/deposit/entries/", api.DepositEntryListView.as_view(), name="api-deposit-entries"
    ),
    path("merchant/deposit/topups/", api.DepositTopupView.as_view(), name="api-deposit-topups"),
    path(
        "merchant/deposit/withdrawals/",
        api.DepositWithdrawalListView.as_view(),
        name="api-deposit-withdrawals",
    ),
]
