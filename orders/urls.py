from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("orders/", views.my_orders, name="my_orders"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/reveal/", views.reveal, name="reveal"),
]
